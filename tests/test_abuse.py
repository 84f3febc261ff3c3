"""The abuse run of issue 15 as tables: every bad input is rejected before any work (exit 2, the reason on one
line, nothing written), every damaged file is reported and recovered from, and the exit codes mean what the
README says. The CLI functions are called in-process with their argv (no subprocess start-up), on tiny-roberta
and a small RTE folder written here, so the file runs anywhere in about a minute.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from sample_records import sample_record

from bca import cli
from bca.cli import bca_count, bca_table
from bca.cli import bca_reproduce as reproduce
from bca.config.hydra_app import compose
from bca.paper.experiments import merge_overrides
from bca.run import checkpoint, records, tracking
from bca.run.runner import run

WORDS = "the a cat dog sat ran on under mat house tree red blue big small quickly slowly".split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))


@pytest.fixture(scope="module")
def glue(tmp_path_factory) -> Path:
    """A GLUE folder holding a small RTE in the original TSV layout (40 train, 16 dev rows)."""
    root = tmp_path_factory.mktemp("glue")
    (root / "RTE").mkdir()
    rng = random.Random(0)
    for name, n in (("train.tsv", 40), ("dev.tsv", 16)):
        rows = ["index\tsentence1\tsentence2\tlabel"]
        rows += [
            f"{i}\t{_sentence(rng)}\t{_sentence(rng)}\t{rng.choice(['entailment', 'not_entailment'])}" for i in range(n)
        ]
        (root / "RTE" / name).write_text("\n".join(rows) + "\n")
    return root


def base(glue: Path) -> list[str]:
    """The issue's ``B``: tiny-roberta + BCA on RTE, 32 rows, 4 steps, no wandb."""
    return [
        "model=tiny-roberta", "method=bca", "task=rte", f"task.data_dir={glue}", "task.max_train_samples=32",
        "task.max_eval_samples=16", "trainer.batch_size=8", "trainer.max_steps=4", "trainer.max_length=32",
        "trainer.progress=false", "logger=disabled",
    ]  # fmt: skip


def bca_run(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """``bca-run argv`` in this process: (exit status, stderr). A later ``key=value`` replaces an earlier one."""
    flags = [a for a in argv if "=" not in a]
    monkeypatch.setattr(sys, "argv", ["bca-run", *flags, *merge_overrides([a for a in argv if "=" in a])])
    try:
        cli.run()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    return code, capsys.readouterr().err


def one_line_with(text: str, *words: str) -> str:
    """The line of ``text`` holding every word (the reason must fit on one line, not span a traceback)."""
    lines = [line for line in text.splitlines() if all(w in line for w in words)]
    assert lines, f"no line holds all of {words}:\n{text}"
    return lines[0]


# --- 1. Accepted silently or crashing late: now rejected up front ------------------------------------------------
REJECTED = [
    # wrong results, silently: gradient ascent, NaN records, flipped gradients, a coerced switch, records in the cwd
    ("lr-negative", ["method.lr=-1"], ["method.lr=-1", "finite number > 0"]),
    ("lr-nan", ["method.lr=nan"], ["method.lr=nan", "finite number > 0"]),
    ("lr-inf", ["method.lr=inf"], ["method.lr=inf", "finite number > 0"]),
    ("head-lr-negative", ["method.head_lr=-1"], ["method.head_lr=-1", "finite number >= 0"]),
    ("head-lr-nan", ["method.head_lr=nan"], ["method.head_lr=nan", "finite number >= 0"]),
    ("head-lr-inf", ["method.head_lr=inf"], ["method.head_lr=inf", "finite number >= 0"]),
    ("grad-norm-negative", ["trainer.max_grad_norm=-1"], ["trainer.max_grad_norm=-1", "null for no clipping"]),
    ("weight-decay-negative", ["trainer.weight_decay=-1"], ["trainer.weight_decay=-1", ">= 0"]),
    ("warmup-negative", ["trainer.warmup_ratio=-1"], ["trainer.warmup_ratio=-1", "between 0 and 1"]),
    ("warmup-above-one", ["trainer.warmup_ratio=5"], ["trainer.warmup_ratio=5", "between 0 and 1"]),
    ("switch-not-bool", ["method.divide_lr_by_block_size=2"], ["divide_lr_by_block_size=2", "true or false"]),
    ("results-dir-empty", ["results_dir="], ["results_dir is empty", "results_dir=runs"]),
    # slipped past the checks, then a traceback after loading
    ("block-size-zero", ["method.block_size=0"], ["method.block_size=0", "integer >= 1"]),
    ("block-size-negative", ["method.block_size=-1"], ["method.block_size=-1", "integer >= 1"]),
    ("sweep-block-size-zero", ["-m", "method.block_size=0,16"], ["[method.block_size=0]", "integer >= 1"]),
    ("max-length-zero", ["trainer.max_length=0"], ["trainer.max_length=0", "too short", ">= 8"]),
    ("max-length-one", ["trainer.max_length=1"], ["trainer.max_length=1", "too short", ">= 8"]),
    ("max-length-huge", ["trainer.max_length=100000"], ["trainer.max_length=100000", "129 positions", "<= 129"]),
    ("mixed-precision", ["trainer.mixed_precision=fp8"], ["mixed_precision='fp8'", "no, fp16, bf16"]),
    ("model-source", ["model.source=bogus"], ["model.source='bogus'", "hub, package, random"]),
    ("method-init", ["method.init=bogus"], ["method.init='bogus'", "zero, gaussian, xavier_uniform"]),
    ("c3a-init", ["method=c3a", "method.init=bogus"], ["method.init='bogus'", "gaussian, kaiming_uniform"]),
    ("logger-mode", ["logger.mode=bogus"], ["logger.mode='bogus'", "offline, online, disabled"]),
    ("seed-negative", ["trainer.seed=-1"], ["trainer.seed=-1", "between 0 and 2**32 - 1"]),
    ("dtype", ["model.dtype=float8"], ["model.dtype='float8'", "float32, bfloat16, float16"]),
    ("model-path-missing", ["model=minilm-l6", "model.path=/no/such"], ["model.path=/no/such", "no such folder"]),
]


@pytest.mark.parametrize("extra,words", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_bad_value_is_rejected_up_front_and_nothing_is_written(extra, words, glue, tmp_path, monkeypatch, capsys):
    results, cwd = tmp_path / "results", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # results_dir= would write here
    given = [o for o in extra if o.startswith("results_dir=")]
    argv = [*base(glue), *extra, *([] if given else [f"results_dir={results}"])]
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 2, err
    assert err.startswith("[bca] invalid run configuration:") and "Traceback" not in err
    line = one_line_with(err, *words)
    assert "HF_HUB_OFFLINE" not in line  # a missing local folder is not blamed on offline mode
    assert not results.exists() and not any(cwd.iterdir()), "a rejected run writes nothing"


def _read_only(path: Path):
    """Make ``path`` unwritable for this user, even root (chattr +i); None if this machine cannot."""
    path.chmod(0o555)
    if os.access(path, os.W_OK):  # root ignores modes: make it immutable instead
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode:
            return None
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    return lambda: path.chmod(0o755)


def test_results_dir_that_is_a_file_or_read_only_is_one_line_not_a_traceback(glue, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    for results, words in ((a_file, ["is a file, not a folder"]), (a_file / "below", [f"{a_file} is a file"])):
        code, err = bca_run([*base(glue), f"results_dir={results}"], monkeypatch, capsys)
        assert code == 2 and "Traceback" not in err, err
        one_line_with(err, f"results_dir={results}", *words)
    assert a_file.read_text() == "not a folder"
    locked = tmp_path / "read_only"
    locked.mkdir()
    undo = _read_only(locked)
    if undo is None:
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        code, err = bca_run([*base(glue), f"results_dir={locked / 'runs'}"], monkeypatch, capsys)
    finally:
        undo()
    assert code == 2 and "Traceback" not in err, err
    one_line_with(err, f"{locked} is not writable", "choose another results_dir")
    assert not any(locked.iterdir())


# --- 2. Damaged inputs: messages that name the file and the line ------------------------------------------------
GOOD = {"question": "Tom has 2 apples and buys 3. How many?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"}
DAMAGED_INPUTS = [
    ("gsm8k-row-without-answer", "train.jsonl", [GOOD, GOOD, {"question": "q"}], ":3:", "lacks keys ['answer']"),
    ("gsm8k-line-not-an-object", "train.jsonl", [GOOD, [1, 2]], ":2:", "a JSON list, expected an object"),
    ("gsm8k-no-answer-line", "train.jsonl", [GOOD, {"question": "q", "answer": "5"}], ":2:", "'####' answer line"),
    ("json-array-broken", "train.json", '[\n {"question": "q", "answer": "#### 1"},\n {"question" 1}\n]', ":3:",
     "not valid JSON"),
    ("jsonl-binary", "train.jsonl", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", ":1:", "not UTF-8 text"),
]  # fmt: skip


def _write(path: Path, content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in content))


@pytest.mark.parametrize(
    "name,content,where,words", [c[1:] for c in DAMAGED_INPUTS], ids=[c[0] for c in DAMAGED_INPUTS]
)
def test_damaged_instruction_data_names_file_and_line(name, content, where, words, tmp_path, monkeypatch, capsys):
    data, results = tmp_path / "gsm8k", tmp_path / "results"
    data.mkdir()
    _write(data / name, content)
    _write(data / "test.jsonl", [GOOD])
    argv = [
        "model=tiny-llama", "method=lora", "task=gsm8k", f"task.data_dir={data}", "task.max_length=64",
        "trainer.max_steps=1", "logger=disabled", f"results_dir={results}",
    ]  # fmt: skip
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err, err
    one_line_with(err, f"{data / name}{where}", words)
    assert not results.exists()


def test_binary_glue_tsv_names_file_and_line(glue, tmp_path, monkeypatch, capsys):
    data = tmp_path / "glue"
    shutil.copytree(glue, data)
    text = (data / "RTE" / "train.tsv").read_bytes().splitlines(keepends=True)
    (data / "RTE" / "train.tsv").write_bytes(b"".join(text[:5]) + b"\xff\xfe\x00 binary\n" + b"".join(text[5:]))
    argv = [*base(glue), f"task.data_dir={data}", f"results_dir={tmp_path / 'results'}"]
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err, err
    one_line_with(err, f"{data / 'RTE' / 'train.tsv'}:6:", "not UTF-8 text")
    assert not (tmp_path / "results").exists()


# --- 3. bca-count: Hydra's errors as one line, block-size problems grouped --------------------------------------
COUNT_CASES = [
    ("unknown-key", ["model=tiny-roberta", "method.rr=4"], ["method.rr=4", "unknown key 'rr'", "did you mean"]),
    ("wrong-type", ["model=tiny-roberta", "method.r=four"], ["method.r=four", "could not be converted to Integer"]),
    ("unknown-group", ["model=tiny-roberto"], ["model=tiny-roberto", "did you mean model=tiny-roberta?"]),
    ("block-size-zero", ["model=tiny-roberta", "method=bca", "method.block_size=0"], ["block_size=0", ">= 1"]),
    ("block-size-grouped", ["model=llama2-7b", "method=bca", "method.block_size=7"], ["64 such layers", "[1, 2, 4"]),
]


@pytest.mark.parametrize("argv,words", [c[1:] for c in COUNT_CASES], ids=[c[0] for c in COUNT_CASES])
def test_bca_count_reports_one_line_per_problem(argv, words, tmp_path, capsys):
    assert bca_count.main([*argv, f"results_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("[bca-count] invalid configuration:")
    one_line_with(err, *words)
    assert len(err.strip().splitlines()) == 2, err  # the header and one problem (not one per layer)
    assert not any(tmp_path.iterdir())


# --- 4. Damaged records: reported with what is wrong and skipped; a reproduction redoes them ----------------------
def _without(record: dict, dotted: str) -> dict:
    record = json.loads(json.dumps(record))
    *parents, last = dotted.split(".")
    node = record
    for part in parents:
        node = node[part]
    del node[last]
    return record


DAMAGED_RECORDS = [
    ("no-params", lambda r: _without(r, "params"), "missing params"),
    ("no-model", lambda r: _without(r, "config.model"), "missing config.model"),
    ("no-best-metric", lambda r: _without(r, "metrics.best.eval.accuracy"), "no number for accuracy"),
    ("config-wrong-type", lambda r: {**r, "config": "rte"}, "config is a str, expected dict"),
    ("metrics-wrong-type", lambda r: {**r, "metrics": [0.5]}, "metrics is a list, expected dict"),
    ("status-unknown", lambda r: {**r, "status": "done"}, "status 'done' is not one of"),
]


@pytest.mark.parametrize("damage,words", [c[1:] for c in DAMAGED_RECORDS], ids=[c[0] for c in DAMAGED_RECORDS])
def test_damaged_record_is_reported_skipped_and_not_done(damage, words, tmp_path, capsys):
    good, bad = records.record_path(tmp_path, "good"), records.record_path(tmp_path, "bad")
    records.write_record(good, sample_record("good"))
    records.write_record(bad, sample_record("bad"))
    assert records.finished(bad)  # control: undamaged, it counts as done
    bad.write_text(json.dumps(damage(sample_record("bad"))))
    assert not records.finished(bad)  # what bca-reproduce and the runner ask: a damaged record is not done
    assert bca_table.main([str(tmp_path), "--format", "md", "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr()
    one_line_with(out.err, "skipping damaged record", str(bad), words)
    assert "| 50.00 |" in out.out and "skipped 1 damaged record" in out.out  # the table, built from the good one


def test_reproduce_redoes_a_cell_whose_record_is_damaged(glue, tmp_path, capsys):
    table = _table(tmp_path, glue, rows=[{"label": "BCA", "overrides": ["method=bca"]}])
    argv = [str(table), f"results_dir={tmp_path / 'results'}", "--dry-run"]
    assert reproduce.main(argv) == 0
    path = Path(capsys.readouterr().out.split("-> ")[1].split()[0])
    records.write_record(path, sample_record(path.stem))
    assert reproduce.main(argv) == 0 and "[done]" in capsys.readouterr().out
    path.write_text(json.dumps(_without(sample_record(path.stem), "params")))
    assert reproduce.main(argv) == 0 and "[todo]" in capsys.readouterr().out


def test_stale_temp_of_a_killed_record_write_is_removed_by_the_next_write(tmp_path):
    path = records.record_path(tmp_path, "abc")
    path.parent.mkdir(parents=True)
    stale = path.parent / f".{path.name}.k1ll3d.tmp"
    stale.write_text('{"run_id": "abc", "sta')  # what a SIGKILL mid-write leaves
    other = path.parent / ".other.json.x.tmp"  # another run's write in progress: not ours to remove
    other.write_text("{")
    records.write_record(path, sample_record("abc"))
    assert not stale.exists() and other.exists() and records.finished(path)


def test_records_are_strict_json_even_with_a_nan_metric(tmp_path):
    path = records.record_path(tmp_path, "nan")
    records.write_record(path, sample_record("nan", extra={"pearson": float("nan"), "loss": float("inf")}))
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))["extra"] == {
        "pearson": None,
        "loss": None,
    }


# --- 5. bca-reproduce checks every cell fully before the first run; overrides may follow options -----------------
def _table(tmp_path: Path, glue: Path, rows: list[dict]) -> Path:
    path = tmp_path / "table.yaml"
    common = [o for o in base(glue) if not o.startswith("method=")]
    spec = {"title": "t", "reports": "best dev epoch", "columns": ["rte"], "seeds": [0], "common": common, "rows": rows}
    path.write_text(yaml.safe_dump(spec))
    return path


GOOD_ROW = {"label": "good", "overrides": ["method=bca"]}
REPRODUCE_CASES = [  # (second row's overrides, user overrides, key words of the one-line reason)
    ("bad-block-size-in-one-row", ["method.block_size=7"], [], ["[row=bad", "block_size=7 does not divide"]),
    ("missing-data", [], ["task.data_dir=/no/glue"], ["GLUE file not found", "/no/glue/RTE/train.tsv"]),
    ("bad-value", [], ["method.lr=nan"], ["[every job] method.lr=nan", "finite number > 0"]),
    ("switch-not-bool", [], ["method.divide_lr_by_block_size=2"], ["block_size=2", "true or false"]),
]


@pytest.mark.parametrize("row,extra,words", [c[1:] for c in REPRODUCE_CASES], ids=[c[0] for c in REPRODUCE_CASES])
def test_reproduce_checks_every_cell_before_the_first_run(row, extra, words, glue, tmp_path, capsys):
    table = _table(tmp_path, glue, [GOOD_ROW, {"label": "bad", "overrides": ["method=bca", *row]}])
    results = tmp_path / "results"
    code = reproduce.main([str(table), f"results_dir={results}", *extra])
    err = capsys.readouterr().err
    assert code == 2 and "invalid cells, nothing ran" in err and "Traceback" not in err, err
    one_line_with(err, *words)
    assert not results.exists()


def test_reproduce_takes_overrides_after_options(glue, tmp_path, capsys):
    """The README's CPU-scale example: options (--seeds, --rows, --tasks) between the overrides."""
    rows = [{"label": "base C3A b=d", "overrides": ["method=c3a"]}, {"label": "base LoRA r=8", "overrides": []}]
    table = _table(tmp_path, glue, rows)
    argv = [
        str(table), "trainer.max_steps=2", "--seeds", "0", "--rows", "base C3A b=d,base LoRA r=8", "--tasks", "rte",
        f"task.data_dir={glue}", f"results_dir={tmp_path / 'results'}", "--dry-run",
    ]  # fmt: skip
    assert reproduce.main(argv) == 0
    out = capsys.readouterr().out
    assert "2 runs, 0 already finished" in out and out.count("[todo]") == 2


# --- 6. Runs: checkpoints verified, disk full, Ctrl-C, divergence, WANDB_MODE --------------------------------------
def checkpointed(glue: Path, results: Path) -> list[str]:
    return [*base(glue), "trainer.checkpoint_every=1", "trainer.log_every=1", f"results_dir={results}"]


@pytest.fixture(scope="module")
def reference(glue, tmp_path_factory):
    """The uninterrupted run every recovered run must reproduce exactly (CPU kernels are deterministic)."""
    return run(compose(checkpointed(glue, tmp_path_factory.mktemp("reference"))))


def interrupt_at(monkeypatch, step: int, error: BaseException) -> None:
    """Make the run's tracker raise ``error`` when the loop logs ``step`` (trained, not yet checkpointed)."""
    start = tracking.start

    def start_raising(*args, **kwargs):
        tracker = start(*args, **kwargs)
        log = tracker.log

        def log_or_raise(values, step=None):
            if step == at:
                raise error
            log(values, step=step)

        tracker.log = log_or_raise
        return tracker

    at = step
    monkeypatch.setattr("bca.run.runner.tracking.start", start_raising)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CHECKPOINT_DAMAGE = [  # (file to truncate, keep every checkpoint?, the step the rerun resumes from)
    ("optimizer.bin", False, None),
    ("model.safetensors", False, None),
    ("model.safetensors", True, 2),  # the previous checkpoint is there: fall back to it
]


@pytest.mark.parametrize("name,keep_all,resumed", CHECKPOINT_DAMAGE, ids=["optimizer", "model", "fallback"])
def test_damaged_checkpoint_is_set_aside_and_the_run_recovers(
    name, keep_all, resumed, reference, glue, tmp_path, monkeypatch, capsys
):
    cfg = compose(checkpointed(glue, tmp_path))
    with pytest.MonkeyPatch.context() as mp:
        interrupt_at(mp, 4, RuntimeError("the machine went away"))  # checkpoints at steps 1, 2, 3
        if keep_all:
            mp.setattr(checkpoint.shutil, "rmtree", lambda *a, **k: None)  # as if killed before the cleanup
        with pytest.raises(RuntimeError):
            run(cfg)
    ckpts = checkpoint.run_checkpoints(tmp_path, reference["run_id"])
    newest = checkpoint.latest(ckpts)
    assert newest.name == "step-00000003"
    _truncate(newest / name)
    capsys.readouterr()
    again = run(cfg)
    out = capsys.readouterr().out
    fallback = "falling back to step-00000002" if keep_all else "starting over"
    one_line_with(out, f"checkpoint {newest} is damaged", name, fallback)
    assert again["status"] == "ok" and again["resumed_from_step"] == resumed
    assert again["metrics"] == reference["metrics"]
    assert [p.name for p in ckpts.iterdir()] == ["step-00000004"]  # the damaged one is gone: never tried again
    assert run(cfg)["finished_at"] == again["finished_at"]  # and the next rerun just skips the finished run


def test_disk_full_during_a_checkpoint_is_one_line_and_loses_nothing(reference, glue, tmp_path, monkeypatch, capsys):
    real_save = torch.save

    def save_until_full(obj, f, *args, **kwargs):
        if ".step-00000002.tmp" in str(f):  # the first checkpoint fits; the disk is full during the second
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    code, err = bca_run(checkpointed(glue, tmp_path), monkeypatch, capsys)
    monkeypatch.setattr(torch, "save", real_save)
    assert code == 4 and "Traceback" not in err, err
    ckpts = checkpoint.run_checkpoints(tmp_path, reference["run_id"])
    one_line_with(err, "disk full while writing", str(ckpts), "step-00000001", "nothing was lost")
    assert [p.name for p in ckpts.iterdir()] == ["step-00000001"]  # no half-written checkpoint folder
    code, _ = bca_run(checkpointed(glue, tmp_path), monkeypatch, capsys)
    done = records.read_record(records.record_path(tmp_path, reference["run_id"]))
    assert code == 0 and done["resumed_from_step"] == 1 and done["metrics"] == reference["metrics"]


def test_disk_full_while_writing_the_record_loses_nothing(reference, glue, tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(records.os, "fsync", full)
    code, err = bca_run(checkpointed(glue, tmp_path), monkeypatch, capsys)
    monkeypatch.undo()
    path = records.record_path(tmp_path, reference["run_id"])
    assert code == 4 and "Traceback" not in err, err
    one_line_with(err, f"disk full while writing {path}", "nothing was lost")
    assert not path.exists() and not list(path.parent.glob("*.tmp"))
    code, _ = bca_run(checkpointed(glue, tmp_path), monkeypatch, capsys)  # resumes from the final checkpoint
    assert code == 0 and records.read_record(path)["metrics"] == reference["metrics"]


def test_ctrl_c_records_a_message_and_the_finished_epochs(glue, tmp_path, monkeypatch, capsys):
    argv = [*checkpointed(glue, tmp_path), "trainer.max_steps=8"]  # 4 steps per epoch: epoch 1 ends at step 4
    with pytest.MonkeyPatch.context() as mp:
        interrupt_at(mp, 6, KeyboardInterrupt())
        code, err = bca_run(argv, mp, capsys)
    assert code == 130 and "Traceback" not in err, err
    one_line_with(err, "interrupted", "run the same command again to resume")
    (path,) = records.records_dir(tmp_path).glob("*.json")
    record = records.read_record(path)
    assert record["status"] == "failed" and record["error"]["type"] == "KeyboardInterrupt"
    assert "at step 6 after 1 finished epoch(s)" in record["error"]["message"]
    assert [e["epoch"] for e in record["metrics"]["epochs"]] == [1] and record["metrics"]["best"]["epoch"] == 1
    code, _ = bca_run(argv, monkeypatch, capsys)
    assert code == 0 and records.read_record(path)["resumed_from_step"] == 5


def test_diverged_run_exits_1(glue, tmp_path, monkeypatch, capsys):
    argv = [*base(glue), "method.divide_lr_by_block_size=false", "method.lr=1e20", f"results_dir={tmp_path}"]
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 1, err
    one_line_with(err, "diverged", "non-finite loss at step 2")
    (path,) = records.records_dir(tmp_path).glob("*.json")
    assert records.read_record(path)["status"] == "diverged"


def test_wandb_mode_disabled_in_the_environment_is_honoured(glue, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    argv = [o for o in base(glue) if o != "logger=disabled"] + [f"results_dir={tmp_path}"]  # the offline default
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "records"]  # no wandb/ folder
