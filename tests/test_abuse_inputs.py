"""Bad input is rejected before any work: exit 2, the reason on one line naming what was wrong and what is valid,
nothing written. Covers run values, damaged data files (named with the line) and bca-count. The abuse run of issue
15 as tables (the other kinds: test_abuse_*.py). The CLI functions are called in-process with their argv (no
subprocess start-up), on tiny-roberta and the small RTE folder of conftest's ``tiny_glue``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from abuse_cli import base, bca_run, one_line_with

from bca.cli import bca_count

# --- Accepted silently or crashing late: now rejected up front ------------------------------------------------
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
def test_bad_value_is_rejected_up_front_and_nothing_is_written(extra, words, tiny_glue, tmp_path, monkeypatch, capsys):
    results, cwd = tmp_path / "results", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # results_dir= would write here
    given = [o for o in extra if o.startswith("results_dir=")]
    argv = [*base(tiny_glue), *extra, *([] if given else [f"results_dir={results}"])]
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


def test_results_dir_that_is_a_file_or_read_only_is_one_line_not_a_traceback(tiny_glue, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    for results, words in ((a_file, ["is a file, not a folder"]), (a_file / "below", [f"{a_file} is a file"])):
        code, err = bca_run([*base(tiny_glue), f"results_dir={results}"], monkeypatch, capsys)
        assert code == 2 and "Traceback" not in err, err
        one_line_with(err, f"results_dir={results}", *words)
    assert a_file.read_text() == "not a folder"
    locked = tmp_path / "read_only"
    locked.mkdir()
    undo = _read_only(locked)
    if undo is None:
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        code, err = bca_run([*base(tiny_glue), f"results_dir={locked / 'runs'}"], monkeypatch, capsys)
    finally:
        undo()
    assert code == 2 and "Traceback" not in err, err
    one_line_with(err, f"{locked} is not writable", "choose another results_dir")
    assert not any(locked.iterdir())


# --- Damaged inputs: messages that name the file and the line ------------------------------------------------
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


def test_binary_glue_tsv_names_file_and_line(tiny_glue, tmp_path, monkeypatch, capsys):
    data = tmp_path / "tiny_glue"
    shutil.copytree(tiny_glue, data)
    text = (data / "RTE" / "train.tsv").read_bytes().splitlines(keepends=True)
    (data / "RTE" / "train.tsv").write_bytes(b"".join(text[:5]) + b"\xff\xfe\x00 binary\n" + b"".join(text[5:]))
    argv = [*base(tiny_glue), f"task.data_dir={data}", f"results_dir={tmp_path / 'results'}"]
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err, err
    one_line_with(err, f"{data / 'RTE' / 'train.tsv'}:6:", "not UTF-8 text")
    assert not (tmp_path / "results").exists()


# --- bca-count: Hydra's errors as one line, block-size problems grouped --------------------------------------
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
