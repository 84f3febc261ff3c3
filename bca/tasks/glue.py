"""GLUE tasks from the Hugging Face hub or from the original ``glue_data`` TSV files.

Both sources give the same columns (``sentence1``, ``sentence2``, ``label``) and the same label ids (the hub's
ClassLabel order), so a run on local TSVs is comparable with one on the hub copy. The TSV parser follows the
layouts written by GLUE's ``download_glue_data.py``; they are irregular (CoLA has no header, MRPC's header
starts with a UTF-8 BOM, labels are ints in some tasks and strings in others) and hold bare ``"`` characters,
so every file is read with ``csv.QUOTE_NONE``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from bca.tasks.base import TaskDataError, TaskSplits, hub_unreachable_reason

log = logging.getLogger(__name__)

DATA_HINT = (
    "Pass task.data_dir=<a folder in the original GLUE TSV layout, <folder>/<RTE|CoLA|...>/{train,dev}.tsv, "
    "as written by GLUE's download_glue_data.py>, e.g. task.data_dir=../shared/data/glue"
)


@dataclass(frozen=True)
class GlueSpec:
    """Where one GLUE task's fields live, in the TSV files and on the hub."""

    folder: str  # sub-folder of data_dir, as in glue_data/
    tsv_text: tuple  # TSV columns of the text fields: header names, or indices for header-less files
    tsv_label: str | int  # TSV column of the label
    hub_text: tuple[str, ...]  # hub columns of the text fields (renamed to sentence1/sentence2)
    label_names: tuple[str, ...] | None  # hub ClassLabel order; None: regression
    metric: str  # main metric (the key of bca/metrics/glue for this task)
    has_header: bool = True
    eval_files: dict = field(default_factory=lambda: {"validation": "dev.tsv"})
    # QQP's train.tsv has a few truncated rows; run_glue's processor skips them too. Elsewhere a short row
    # means a parsing bug, so it is an error.
    skip_malformed: bool = False

    @property
    def num_labels(self) -> int:
        return len(self.label_names) if self.label_names else 1


_NLI2 = ("entailment", "not_entailment")
_PAIR = ("sentence1", "sentence2")
GLUE_TASKS: dict[str, GlueSpec] = {
    "cola": GlueSpec("CoLA", (3,), 1, ("sentence",), ("unacceptable", "acceptable"), "matthews_correlation",
                     has_header=False),
    "sst2": GlueSpec("SST-2", ("sentence",), "label", ("sentence",), ("negative", "positive"), "accuracy"),
    "mrpc": GlueSpec("MRPC", ("#1 String", "#2 String"), "Quality", _PAIR, ("not_equivalent", "equivalent"),
                     "accuracy"),
    "qqp": GlueSpec("QQP", ("question1", "question2"), "is_duplicate", ("question1", "question2"),
                    ("not_duplicate", "duplicate"), "accuracy", skip_malformed=True),
    "stsb": GlueSpec("STS-B", _PAIR, "score", _PAIR, None, "pearson"),
    "mnli": GlueSpec("MNLI", _PAIR, "gold_label", ("premise", "hypothesis"),
                     ("entailment", "neutral", "contradiction"), "accuracy",
                     eval_files={"validation_matched": "dev_matched.tsv",
                                 "validation_mismatched": "dev_mismatched.tsv"}),
    "qnli": GlueSpec("QNLI", ("question", "sentence"), "label", ("question", "sentence"), _NLI2, "accuracy"),
    "rte": GlueSpec("RTE", _PAIR, "label", _PAIR, _NLI2, "accuracy"),
    # WNLI's ids are the other way round from RTE/QNLI: 1 = entailment (as in the TSV and on the hub).
    "wnli": GlueSpec("WNLI", _PAIR, "label", _PAIR, ("not_entailment", "entailment"), "accuracy"),
}  # fmt: skip


def glue_spec(name: str) -> GlueSpec:
    if name not in GLUE_TASKS:
        raise TaskDataError(f"unknown GLUE task {name!r}; valid: {sorted(GLUE_TASKS)}")
    return GLUE_TASKS[name]


def _features(spec: GlueSpec) -> datasets.Features:
    cols = {f"sentence{i + 1}": datasets.Value("string") for i in range(len(spec.tsv_text))}
    # float32 like the hub's STS-B, so both sources give identical tensors
    label = datasets.ClassLabel(names=list(spec.label_names)) if spec.label_names else datasets.Value("float32")
    return datasets.Features({**cols, "label": label})


def _parse_label(raw: str, spec: GlueSpec, where: str):
    if spec.label_names is None:
        try:
            return float(raw)
        except ValueError:
            raise TaskDataError(f"{where}: score {raw!r} is not a number") from None
    if raw in spec.label_names:
        return spec.label_names.index(raw)
    if raw.isdigit() and int(raw) < spec.num_labels:
        return int(raw)
    raise TaskDataError(f"{where}: label {raw!r} is neither one of {list(spec.label_names)} nor a class id")


def read_glue_tsv(path: Path, spec: GlueSpec) -> datasets.Dataset:
    """Parse one GLUE TSV file into the common columns. Errors name the file and line."""
    if not path.is_file():
        present = sorted(p.name for p in path.parent.glob("*.tsv")) if path.parent.is_dir() else []
        found = f"the folder holds only {present}" if present else "the folder is missing or has no .tsv files"
        raise TaskDataError(
            f"GLUE file not found: {path.resolve()} ({found}). {DATA_HINT}; "
            "or leave task.data_dir unset to download nyu-mll/glue from the hub (needs internet)."
        )
    try:
        return _parse_glue_tsv(path, spec)
    except UnicodeDecodeError as err:  # a binary or non-UTF-8 file: say where, not only the byte value
        line = _line_of_byte(path, err)
        raise TaskDataError(f"{path}:{line}: not UTF-8 text (a binary file?); expected a GLUE TSV file") from None
    except csv.Error as err:  # e.g. a NUL byte
        raise TaskDataError(f"{path}: not a readable TSV file ({err})") from None


def _line_of_byte(path: Path, err: UnicodeDecodeError) -> int:
    """The line of the first byte that is not UTF-8 (the decoder's offsets are within a chunk, not the file)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as whole:
        return data[: whole.start].count(b"\n") + 1
    return 1


def _parse_glue_tsv(path: Path, spec: GlueSpec) -> datasets.Dataset:
    columns: dict[str, list] = {f"sentence{i + 1}": [] for i in range(len(spec.tsv_text))}
    labels: list = []
    skipped = 0
    # utf-8-sig drops MRPC's BOM, so its first header field reads "Quality" like the others.
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None) if spec.has_header else None
        if spec.has_header and header is None:
            raise TaskDataError(f"{path} is empty (expected a header line)")
        try:
            text_idx = [header.index(c) if header else c for c in spec.tsv_text]
            label_idx = header.index(spec.tsv_label) if header else spec.tsv_label
        except ValueError as err:
            raise TaskDataError(f"{path}: header {header} lacks a column we need ({err})") from None
        width = len(header) if header else max(*text_idx, label_idx) + 1
        for row in reader:
            if len(row) != width:
                if spec.skip_malformed:
                    skipped += 1
                    continue
                raise TaskDataError(f"{path}:{reader.line_num}: {len(row)} fields, expected {width}")
            for i, col in enumerate(text_idx):
                columns[f"sentence{i + 1}"].append(row[col])
            labels.append(_parse_label(row[label_idx], spec, f"{path}:{reader.line_num}"))
    if skipped:
        log.warning("%s: skipped %d malformed rows", path, skipped)
    return datasets.Dataset.from_dict({**columns, "label": labels}, features=_features(spec))


def _split_files(spec: GlueSpec, eval_split: str) -> tuple[str, str]:
    if eval_split not in spec.eval_files:
        raise TaskDataError(
            f"eval_split {eval_split!r} has no local file for {spec.folder}; "
            f"valid: {sorted(spec.eval_files)} (GLUE test files have no labels)"
        )
    return "train.tsv", spec.eval_files[eval_split]


def load_glue_tsv(data_dir: str, spec: GlueSpec, eval_split: str) -> tuple[datasets.Dataset, datasets.Dataset]:
    train_file, eval_file = _split_files(spec, eval_split)
    folder = Path(data_dir) / spec.folder
    return read_glue_tsv(folder / train_file, spec), read_glue_tsv(folder / eval_file, spec)


def load_glue_hub(
    hub_path: str, hub_name: str, spec: GlueSpec, eval_split: str
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Download (or reuse the cached) hub copy and rename its columns to the common layout."""
    where = f"{hub_path}/{hub_name}"
    reason = hub_unreachable_reason()
    if reason:
        raise TaskDataError(
            f"cannot load {where} from the Hugging Face hub: {reason}. Set HF_HUB_OFFLINE=1 to use a cached "
            f"copy, or load local files instead. {DATA_HINT}."
        )
    try:
        data = datasets.load_dataset(hub_path, hub_name)
    except (ConnectionError, OSError, ValueError) as err:
        why = " (HF_HUB_OFFLINE=1: the hub is disabled and there is no cached copy)"
        why = why if datasets.config.HF_HUB_OFFLINE else ""
        raise TaskDataError(f"cannot load {where} from the Hugging Face hub{why}: {err}. {DATA_HINT}.") from err
    for split in ("train", eval_split):
        if split not in data:
            raise TaskDataError(f"{where} has no split {split!r}; it has {sorted(data)}")
    renames = {col: f"sentence{i + 1}" for i, col in enumerate(spec.hub_text)}
    out = []
    for split in ("train", eval_split):
        ds = data[split]
        missing = [c for c in [*renames, "label"] if c not in ds.column_names]
        if missing:
            raise TaskDataError(f"{where}[{split}] lacks columns {missing}; it has {ds.column_names}")
        ds = ds.select_columns([*renames, "label"]).rename_columns(renames)
        out.append(ds)
    return out[0], out[1]


def load_glue(cfg) -> TaskSplits:
    """Load a GLUE task named ``cfg.name`` from ``cfg.data_dir`` when set, else from the hub."""
    spec = glue_spec(cfg.name)
    if cfg.data_dir:
        train, evaluation = load_glue_tsv(cfg.data_dir, spec, cfg.eval_split)
    else:
        if not cfg.hub_path:
            raise TaskDataError(f"task {cfg.name!r}: set task.data_dir or task.hub_path. {DATA_HINT}.")
        train, evaluation = load_glue_hub(cfg.hub_path, cfg.hub_name or cfg.name, spec, cfg.eval_split)
    label_feature = train.features["label"]
    names = list(label_feature.names) if isinstance(label_feature, datasets.ClassLabel) else None
    return TaskSplits(
        name=cfg.name,
        train=train,
        eval=evaluation,
        text_fields=tuple(f"sentence{i + 1}" for i in range(len(spec.tsv_text))),
        num_labels=len(names) if names else 1,
        metric_for_best=spec.metric,
        label_names=names,
    )
