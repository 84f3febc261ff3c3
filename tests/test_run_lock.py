"""Two processes never train the same run: a live owner's lock stops a second one; a dead owner's is taken over.

The lock is an OS lock (``filelock``): the stale cases use a real dead pid (a child process that has exited and
been reaped), a lock file no live process holds although its pid is alive, and a child holding the lock that is
SIGKILLed; the live case is this test process itself.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import yaml
from omegaconf import OmegaConf

from bca.cli import bca_reproduce as reproduce
from bca.config.hydra_app import compose
from bca.paper import experiments
from bca.paper.reproduce_cells import compose_cells
from bca.run import lock as run_lock
from bca.run import records
from bca.run.runner import run

TINY = [
    "model=tiny-roberta",
    "method=lora",
    "task.max_train_samples=16",
    "task.max_eval_samples=8",
    "trainer.batch_size=8",
    "trainer.epochs=1",
    "trainer.max_length=24",
    "trainer.progress=false",
    "logger=disabled",
]


def tiny(tmp_path, *extra):
    cfg = compose([*TINY, f"results_dir={tmp_path}", *extra])
    return cfg, records.run_id(OmegaConf.to_container(cfg, resolve=True))


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)  # exited and reaped by subprocess.run: no process has this pid now


def write_lock(tmp_path, rid, **owner):
    path = run_lock.lock_path(tmp_path, rid)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": "t"}
    path.write_text(json.dumps({**base, **owner}))
    return path


def test_a_live_owner_stops_a_second_run_before_any_work(tmp_path):
    cfg, rid = tiny(tmp_path)
    with run_lock.hold(tmp_path, rid) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        with pytest.raises(run_lock.RunLocked, match=rf"pid {os.getpid()} .*delete .*{rid}\.lock"):
            run(cfg)
    assert not records.record_path(tmp_path, rid).exists()
    assert not (tmp_path / "checkpoints").exists()
    assert not path.exists()  # released when the block ends


def test_a_dead_owners_lock_is_taken_over_and_released_after_the_run(tmp_path, capsys):
    cfg, rid = tiny(tmp_path)
    path = write_lock(tmp_path, rid, pid=dead_pid())
    record = run(cfg)
    assert record["status"] == "ok"
    assert "taking over the stale lock" in capsys.readouterr().out
    assert not path.exists()


def test_a_lock_file_nobody_holds_is_stale_even_if_its_pid_is_alive_now(tmp_path):
    """From before a reboot, or a pid reused since: the OS lock, not the pid, says whether the owner lives."""
    _, rid = tiny(tmp_path)
    write_lock(tmp_path, rid)  # pid = this live process, but no OS lock held on the file
    with run_lock.hold(tmp_path, rid) as path:
        held = json.loads(path.read_text())
        assert held["pid"] == os.getpid() and held["started_at"] != "t"


def test_a_sigkilled_owners_lock_is_free_again(tmp_path):
    _, rid = tiny(tmp_path)
    code = (
        "import sys, time; from bca.run import lock; "
        f"held = lock.acquire({str(tmp_path)!r}, {rid!r}); print('held', flush=True); time.sleep(120)"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert owner.stdout.readline().strip() == "held"
        with pytest.raises(run_lock.RunLocked, match=rf"pid {owner.pid} "):
            run_lock.acquire(tmp_path, rid)
    finally:
        owner.kill()  # SIGKILL: no cleanup runs in the owner; the kernel drops its lock
        owner.wait()
    with run_lock.hold(tmp_path, rid) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_a_lock_from_another_host_is_honoured(tmp_path):
    _, rid = tiny(tmp_path)
    write_lock(tmp_path, rid, host="gpu-node-17", pid=dead_pid())  # its pid means nothing here
    with pytest.raises(run_lock.RunLocked, match="gpu-node-17"):
        run_lock.acquire(tmp_path, rid)


def test_only_the_owner_releases_a_lock(tmp_path):
    _, rid = tiny(tmp_path)
    with run_lock.hold(tmp_path, rid) as path:
        other = {"host": socket.gethostname(), "pid": 1, "started_at": "t"}
        path.write_text(json.dumps(other))  # another process took it over meanwhile
    assert json.loads(path.read_text())["pid"] == 1


def test_reproduce_leaves_a_locked_cell_to_its_owner_and_runs_the_rest(tmp_path, capsys):
    table = {
        "title": "t",
        "reports": "best dev epoch",
        "columns": ["rotten_tomatoes"],
        "seeds": [0, 1],
        "common": TINY,
        "rows": [{"label": "LoRA", "overrides": []}],
    }
    exp = tmp_path / "t.yaml"
    exp.write_text(yaml.safe_dump(table))
    loaded = experiments.load(str(exp))
    [(_, _, seed_1_record)] = compose_cells(loaded, experiments.cells(loaded, [f"results_dir={tmp_path}"], seeds=[1]))
    with run_lock.hold(tmp_path, seed_1_record.stem):  # "another process" is training the seed-1 cell
        assert reproduce.main([str(exp), f"results_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "1 run(s) left to the other process(es)" in out and "seed 1" in out
    written = [r["config"]["trainer"]["seed"] for _, r in records.iter_records(tmp_path / "records")]
    assert written == [0]


@pytest.mark.slow  # two processes import torch and train on 2 busy cores (~40 s)
def test_two_reproduce_processes_share_a_table_and_train_each_run_once(tmp_path):
    table = {
        "title": "t",
        "reports": "best dev epoch",
        "columns": ["rotten_tomatoes"],
        "seeds": [0, 1, 2, 3],
        "common": [*TINY, "task.max_train_samples=48"],  # 6 steps: long enough for the runs to overlap
        "rows": [{"label": "LoRA", "overrides": []}],
    }
    exp = tmp_path / "t.yaml"
    exp.write_text(yaml.safe_dump(table))
    cmd = [str(os.path.join(os.path.dirname(sys.executable), "bca-reproduce")), str(exp), f"results_dir={tmp_path}"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trained = [line for out in outs for line in out.splitlines() if line.startswith("[bca] record written")]
    assert len(trained) == 4, outs  # every run trained by exactly one of the two processes
    print("runs trained per process:", [out.count("[bca] record written") for out in outs])
    assert all("left to the other process" in out or "record written" in out for out in outs)
    found = list(records.iter_records(tmp_path / "records"))
    assert sorted(r["config"]["trainer"]["seed"] for _, r in found) == [0, 1, 2, 3]
    assert not (tmp_path / "locks").exists()


def test_bca_run_exits_3_naming_the_owner_and_writes_nothing(tmp_path):
    _, rid = tiny(tmp_path)
    bca_run = os.path.join(os.path.dirname(sys.executable), "bca-run")
    with run_lock.hold(tmp_path, rid):
        out = subprocess.run(
            [bca_run, *TINY, f"results_dir={tmp_path}"], capture_output=True, text=True, timeout=300,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
    assert out.returncode == 3, out.stderr[-2000:]
    assert f"is being trained by pid {os.getpid()}" in out.stderr and "Traceback" not in out.stderr
    assert not records.record_path(tmp_path, rid).exists()
