"""GLUE loading: the real TSV files against their published row counts and raw contents, the layouts we
cannot test on real files (MNLI/QQP/WNLI) on small hand-written files, the hub branch without a network,
and the config checks."""

import time
from pathlib import Path

import datasets
import pytest
from omegaconf import OmegaConf

import bca.tasks.glue as glue
from bca.tasks.config import TaskConfig
from bca.tasks.glue import GLUE_TASKS, read_glue_tsv
from bca.tasks.metrics import metric_names
from bca.tasks.registry import TaskDataError, load_task

TASK_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "task"

# Row counts from shared/data/PROVENANCE.md (= the canonical GLUE / HF counts).
COUNTS = {
    "cola": (8551, 1043),
    "sst2": (67349, 872),
    "mrpc": (3668, 408),
    "stsb": (5749, 1500),
    "rte": (2490, 277),
}


def _cfg(name, **kw):
    spec = GLUE_TASKS[name]
    return TaskConfig(name=name, num_labels=spec.num_labels, metric_for_best=spec.metric, **kw)


def _raw_rows(path, header=True):
    """Reference parse: plain str.split on the file text (no csv module)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    lines = [ln for ln in lines if ln]  # the CoLA dev file has no trailing newline, the others do
    return [ln.split("\t") for ln in (lines[1:] if header else lines)]


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_real_tsv_counts_columns_and_labels(glue_dir, name):
    splits = load_task(_cfg(name, data_dir=str(glue_dir)))
    assert (len(splits.train), len(splits.eval)) == COUNTS[name]
    pair = name != "cola" and name != "sst2"
    assert splits.text_fields == (("sentence1", "sentence2") if pair else ("sentence1",))
    for ds in (splits.train, splits.eval):
        assert set(ds.column_names) == {*splits.text_fields, "label"}
        if name == "stsb":
            assert splits.is_regression and ds.features["label"].dtype == "float32"
            assert 0.0 <= min(ds["label"]) and max(ds["label"]) <= 5.0
        else:
            assert not splits.is_regression and set(ds["label"]) == {0, 1}
            assert all(isinstance(t, str) and t for t in ds["sentence1"])


def test_cola_labels_match_raw_file(glue_dir):
    """CoLA has no header and no trailing newline in dev: every row survives, labels equal column 2."""
    splits = load_task(_cfg("cola", data_dir=str(glue_dir)))
    for ds, fname in ((splits.train, "train.tsv"), (splits.eval, "dev.tsv")):
        raw = _raw_rows(glue_dir / "CoLA" / fname, header=False)
        assert ds["label"] == [int(r[1]) for r in raw]
        assert ds["sentence1"] == [r[3] for r in raw]


def test_rte_string_labels_map_to_hub_ids(glue_dir):
    splits = load_task(_cfg("rte", data_dir=str(glue_dir)))
    assert splits.label_names == ["entailment", "not_entailment"]
    raw = _raw_rows(glue_dir / "RTE" / "dev.tsv")
    assert splits.eval["label"] == [{"entailment": 0, "not_entailment": 1}[r[3]] for r in raw]
    assert splits.eval["sentence2"] == [r[2] for r in raw]


def test_mrpc_quotes_and_bom(glue_dir):
    splits = load_task(_cfg("mrpc", data_dir=str(glue_dir)))
    row = next(r for r in splits.train if "extremely heartrending" in r["sentence1"])
    assert row["sentence1"] == 'Officials at Brandeis said this was an " extremely heartrending " time for the campus .'
    assert row["sentence2"].startswith('" This is an extremely heartrending time')
    assert row["label"] == 1
    assert not any(s.startswith("\ufeff") for s in splits.train["sentence1"][:5])


def test_sst2_text_kept_verbatim(glue_dir):
    """SST-2 sentences end with a space in GLUE and on the hub: nothing is stripped."""
    ds = read_glue_tsv(glue_dir / "SST-2" / "dev.tsv", GLUE_TASKS["sst2"])
    assert ds["sentence1"] == [r[0] for r in _raw_rows(glue_dir / "SST-2" / "dev.tsv")]


def test_qnli_dev_parses_and_missing_train_is_named(glue_dir):
    dev = read_glue_tsv(glue_dir / "QNLI" / "dev.tsv", GLUE_TASKS["qnli"])
    assert len(dev) == 5463 and set(dev["label"]) == {0, 1}
    with pytest.raises(TaskDataError, match=r"QNLI/train\.tsv.*holds only \['dev\.tsv'\].*task\.data_dir="):
        load_task(_cfg("qnli", data_dir=str(glue_dir)))


def test_subsampling(glue_dir):
    full = load_task(_cfg("rte", data_dir=str(glue_dir)))
    a = load_task(_cfg("rte", data_dir=str(glue_dir), max_train_samples=100, max_eval_samples=50))
    b = load_task(_cfg("rte", data_dir=str(glue_dir), max_train_samples=100, max_eval_samples=50))
    assert len(a.train) == 100 and a.train["sentence1"] == b.train["sentence1"]
    assert set(a.train["sentence1"]) <= set(full.train["sentence1"])
    assert a.train["sentence1"] != full.train["sentence1"][:100]  # a random subset, not the head
    assert a.eval["sentence1"] == full.eval["sentence1"][:50]


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_mnli_qqp_wnli_layouts(tmp_path):
    """The GLUE layouts absent from shared/data, on files written by hand in their published shape."""
    parses = ["sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse", "sentence2_parse"]
    mnli_head = ["index", "promptID", "pairID", "genre", *parses, "sentence1", "sentence2", "label1"]
    _write(
        tmp_path / "MNLI/train.tsv",
        [
            "\t".join([*mnli_head, "gold_label"]),
            "\t".join(["0", *"abcdefg", 'He said "hi"', "P2", "neutral", "neutral"]),
        ],
    )
    dev_head = [*mnli_head, "label2", "label3", "label4", "label5", "gold_label"]
    _write(
        tmp_path / "MNLI/dev_mismatched.tsv",
        ["\t".join(dev_head), "\t".join(["0", *"abcdefg", "x", "y", *["contradiction"] * 6])],
    )
    s = load_task(_cfg("mnli", data_dir=str(tmp_path), eval_split="validation_mismatched"))
    assert s.train[0] == {"sentence1": 'He said "hi"', "sentence2": "P2", "label": 1}
    assert s.eval["label"] == [2] and s.num_labels == 3

    qqp_head = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"
    _write(
        tmp_path / "QQP/train.tsv",
        [qqp_head, "1\t1\t2\tq1?\tq2?\t1", "2\t3\t4\ttruncated row", "3\t5\t6\ta\tb\t0"],
    )
    _write(tmp_path / "QQP/dev.tsv", [qqp_head, "9\t1\t2\tq\tr\t0"])
    s = load_task(_cfg("qqp", data_dir=str(tmp_path)))
    assert s.train["label"] == [1, 0] and s.train["sentence2"] == ["q2?", "b"]  # the short row is skipped

    _write(tmp_path / "WNLI/train.tsv", ["index\tsentence1\tsentence2\tlabel", "0\ta\tb\t1"])
    _write(tmp_path / "WNLI/dev.tsv", ["index\tsentence1\tsentence2\tlabel", "0\ta\tb\t0"])
    s = load_task(_cfg("wnli", data_dir=str(tmp_path)))
    assert s.label_names[s.train[0]["label"]] == "entailment"


def test_malformed_rows_and_labels_are_errors(tmp_path):
    _write(tmp_path / "RTE/train.tsv", ["index\tsentence1\tsentence2\tlabel", "0\ta\tb\tentailment", "1\ta\tb"])
    _write(tmp_path / "RTE/dev.tsv", ["index\tsentence1\tsentence2\tlabel", "0\ta\tb\tmaybe"])
    with pytest.raises(TaskDataError, match=r"train\.tsv:3: 3 fields, expected 4"):
        load_task(_cfg("rte", data_dir=str(tmp_path)))
    with pytest.raises(TaskDataError, match=r"dev\.tsv:2: label 'maybe'"):
        read_glue_tsv(tmp_path / "RTE/dev.tsv", GLUE_TASKS["rte"])


def test_hub_offline_fails_fast_with_actionable_message():
    assert datasets.config.HF_HUB_OFFLINE  # conftest sets HF_HUB_OFFLINE=1 before datasets is imported
    t0 = time.perf_counter()
    with pytest.raises(TaskDataError) as err:
        load_task(TaskConfig(name="rte", hub_path="nyu-mll/glue-does-not-exist"))
    assert time.perf_counter() - t0 < 3.0
    msg = str(err.value)
    assert "HF_HUB_OFFLINE=1" in msg and "task.data_dir=" in msg and "../shared/data/glue" in msg


def test_unreachable_hub_fails_before_datasets_retries(monkeypatch):
    """Online mode with no route to the hub: a ~0 s probe instead of datasets' ~25 s of retries."""
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused at once
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("load_dataset was called"))
    t0 = time.perf_counter()
    with pytest.raises(TaskDataError, match=r"cannot reach 127\.0\.0\.1:9.*HF_HUB_OFFLINE=1.*task\.data_dir="):
        load_task(TaskConfig(name="rte"))
    assert time.perf_counter() - t0 < 3.0


def test_hub_columns_renamed(monkeypatch):
    """Hub branch, network faked: MNLI premise/hypothesis become sentence1/sentence2, idx is dropped."""
    feats = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"]),
            "idx": datasets.Value("int32"),
        }
    )
    split = datasets.Dataset.from_dict({"premise": ["p"], "hypothesis": ["h"], "label": [2], "idx": [0]}, feats)
    fake = datasets.DatasetDict(train=split, validation_matched=split)
    calls = []
    monkeypatch.setattr(glue, "hub_unreachable_reason", lambda: None)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a: calls.append(a) or fake)
    s = load_task(_cfg("mnli", eval_split="validation_matched"))
    assert calls == [("nyu-mll/glue", "mnli")]
    assert s.eval[0] == {"sentence1": "p", "sentence2": "h", "label": 2} and s.label_names[2] == "contradiction"
    with pytest.raises(TaskDataError, match=r"no split 'validation'.*validation_matched"):
        load_task(_cfg("mnli"))


def test_config_mismatches_are_collected(glue_dir):
    with pytest.raises(TaskDataError, match=r"num_labels=2 but stsb has 1 \(regression\).*metric_for_best='accuracy'"):
        load_task(TaskConfig(name="stsb", data_dir=str(glue_dir)))
    with pytest.raises(TaskDataError, match=r"unknown task kind 'nope'; valid: \["):
        load_task(TaskConfig(name="rte", kind="nope"))


@pytest.mark.parametrize("path", sorted(TASK_CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_task_yaml_fits_schema_and_task(path):
    raw = OmegaConf.load(path)
    raw.pop("defaults")
    cfg = OmegaConf.merge(OmegaConf.structured(TaskConfig), raw)  # unknown keys / wrong types raise here
    if cfg.kind == "instruct":  # generative: scored by bca.tasks.instruct, not by the GLUE metric
        from bca.tasks.instruct.task import METRICS

        assert cfg.name == path.stem and cfg.metric_for_best in METRICS and cfg.num_labels is None
        return
    assert cfg.name == path.stem and cfg.metric_for_best in metric_names(cfg.name)
    if cfg.kind == "glue":
        spec = GLUE_TASKS[cfg.name]
        assert cfg.num_labels == spec.num_labels and cfg.eval_split in spec.eval_files
