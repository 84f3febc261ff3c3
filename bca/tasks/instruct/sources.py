"""Instruction datasets in one layout: ``instruction``, ``input``, ``response``, ``answer`` (all strings).

``answer`` is the normalised final number (what GSM8K accuracy compares against), or ``""`` for data without
one (Alpaca). Every source reads the hub by default and local files through ``data_dir``; the synthetic one
is generated offline by reasoning-gym, seeded, so quick runs need neither internet nor data files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets

from bca.tasks.base import TaskDataError, hub_unreachable_reason
from bca.tasks.instruct.answers import MARKER, extract_answer, normalise_number

COLUMNS = ("instruction", "input", "response", "answer")
_CALCULATOR = re.compile(r"<<[^>]*>>")


def _rows(items: list[dict]) -> datasets.Dataset:
    return datasets.Dataset.from_dict({c: [str(r[c]) for r in items] for c in COLUMNS})


def _array_items(path: Path, text: str) -> list[tuple[str, object]]:
    """The items of a JSON array, each with the line it starts on (json.loads alone would lose them)."""
    decoder, items, space = json.JSONDecoder(), [], " \t\r\n"
    pos, line, counted = text.index("[") + 1, 1, 0  # newlines counted incrementally: one pass over the text

    def skip_space(pos: int) -> int:
        while pos < len(text) and text[pos] in space:
            pos += 1
        return pos

    while True:
        pos = skip_space(pos)
        if pos < len(text) and text[pos] == "]" and not items:
            return items
        line, counted = line + text.count("\n", counted, pos), pos
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise TaskDataError(f"{path}:{err.lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
        items.append((f"{path}:{line}", item))
        pos = skip_space(pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "]":
            return items
        else:
            line += text.count("\n", counted, pos)
            raise TaskDataError(f"{path}:{line}: not valid JSON (expected ',' or ']' after an item of the array)")


def _read_json(path: Path) -> list[tuple[str, object]]:
    """A JSON array or JSON-lines file as ``(where, row)`` pairs, ``where`` = ``<file>:<line>``, so every later
    problem with a row (not an object, a key missing, no answer) names the file and line to fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise TaskDataError(f"{path}:{line}: not UTF-8 text (a binary file?); expected JSON or JSON lines") from None
    if text.lstrip().startswith("["):
        return _array_items(path, text)
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{path}:{n}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise TaskDataError(f"{path}:{n}: not JSON ({err})") from None
    return rows


def _local_file(data_dir: str, split: str, hint: str) -> Path:
    """``data_dir`` may be the file itself or a folder holding ``<split>.jsonl`` / ``<split>.json``."""
    path = Path(data_dir)
    if path.is_file():
        return path
    for name in (f"{split}.jsonl", f"{split}.json"):
        if (path / name).is_file():
            return path / name
    present = sorted(p.name for p in path.glob("*.json*")) if path.is_dir() else []
    raise TaskDataError(
        f"no {split} file in {path.resolve()} (looked for {split}.jsonl / {split}.json"
        f"{'; the folder holds ' + str(present) if present else '; the folder is missing or empty'}). {hint}"
    )


def _hub(hub_path: str, hub_name: str | None, split: str, hint: str) -> list[tuple[str, dict]]:
    where = f"{hub_path}{'/' + hub_name if hub_name else ''}[{split}]"
    reason = hub_unreachable_reason()
    if reason:
        raise TaskDataError(f"cannot load {where} from the Hugging Face hub: {reason}. {hint}")
    try:
        rows = datasets.load_dataset(hub_path, hub_name, split=split)
        return [(f"{where} row {i}", row) for i, row in enumerate(rows)]
    except (ConnectionError, OSError, ValueError) as err:
        offline = " (HF_HUB_OFFLINE=1 and no cached copy)" if datasets.config.HF_HUB_OFFLINE else ""
        raise TaskDataError(f"cannot load {where} from the Hugging Face hub{offline}: {err}. {hint}") from err


def _need(rows: list[tuple[str, object]], keys: tuple[str, ...]) -> list[dict]:
    """The rows, each checked to be an object holding ``keys``; the first bad one is named by file and line."""
    for where, row in rows:
        if not isinstance(row, dict):
            raise TaskDataError(f"{where}: a JSON {type(row).__name__}, expected an object with keys {list(keys)}")
        missing = [k for k in keys if k not in row]
        if missing:
            raise TaskDataError(f"{where}: the row lacks keys {missing}; it has {sorted(row)}")
    return [row for _, row in rows]


# --- GSM8K ---------------------------------------------------------------------------------------------
GSM8K_HINT = "Pass task.data_dir=<folder with GSM8K train.jsonl/test.jsonl>, e.g. ../shared/data/gsm8k"


def gsm8k_row(question: str, solution: str) -> dict:
    """One GSM8K problem; the calculator annotations ``<<48/2=24>>`` are dropped from the target text.

    They are tool calls for the original paper's calculator, not reasoning: without them the target is
    shorter and reads like what we want the model to write. The ``#### n`` line is kept, so the tuned model
    learns to mark its final answer.
    """
    if MARKER not in solution:
        raise TaskDataError(f"GSM8K solution without a '{MARKER}' answer line: {solution[-80:]!r}")
    answer = normalise_number(solution.rsplit(MARKER, 1)[1])
    return {"instruction": question, "input": "", "response": _CALCULATOR.sub("", solution), "answer": answer}


def load_gsm8k(split: str, data_dir: str | None = None, hub_path: str | None = None, hub_name: str | None = None, **_):
    if data_dir:
        rows = _read_json(_local_file(data_dir, split, GSM8K_HINT))
    else:
        rows = _hub(hub_path or "openai/gsm8k", hub_name or "main", split, GSM8K_HINT)
    out = []
    for (where, _), r in zip(rows, _need(rows, ("question", "answer")), strict=True):
        try:
            out.append(gsm8k_row(r["question"], r["answer"]))
        except TaskDataError as err:
            raise TaskDataError(f"{where}: {err}") from None
    return _rows(out)


# --- MetaMathQA (train only) -----------------------------------------------------------------------------
def load_metamathqa(
    split: str, data_dir: str | None = None, hub_path: str | None = None, hub_name: str | None = None, **_
):
    hint = "Pass task.data_dir=<a MetaMathQA JSON/JSONL file (query/response)>; it needs internet otherwise"
    if data_dir:
        rows = _read_json(_local_file(data_dir, split, hint))
    else:
        rows = _hub(hub_path or "meta-math/MetaMathQA", hub_name, split, hint)
    rows = _need(rows, ("query", "response"))
    # Its responses end with "The answer is: 18": the last number is the final answer.
    items = [
        {"instruction": r["query"], "input": "", "response": r["response"], "answer": extract_answer(r["response"])}
        for r in rows
    ]
    return _rows([{**r, "answer": r["answer"] or ""} for r in items])


# --- Alpaca (train only) ---------------------------------------------------------------------------------
def load_alpaca(split: str, data_dir: str | None = None, hub_path: str | None = None, hub_name: str | None = None, **_):
    hint = "Pass task.data_dir=<an Alpaca JSON file>, e.g. ../shared/data/instruct/alpaca_data_first200.json"
    if data_dir:
        rows = _read_json(_local_file(data_dir, split, hint))
    else:
        rows = _hub(hub_path or "tatsu-lab/alpaca", hub_name, split, hint)
    rows = _need(rows, ("instruction", "output"))
    return _rows(
        [{"instruction": r["instruction"], "input": r.get("input") or "", "response": r["output"], "answer": ""}
         for r in rows]
    )  # fmt: skip


# --- GSM8K-style problems generated offline by reasoning-gym ---------------------------------------------
SYNTHETIC_SUFFIX = " Give the result as your final answer. Do not include units."
SYNTHETIC_SIZES = {"train": 2000, "test": 200}
"""Rows generated when task.max_{train,eval}_samples is unset."""


def load_gsm8k_synthetic(split: str, seed: int = 0, size: int | None = None, exclude=frozenset(), **_):
    """reasoning-gym's ``gsm_symbolic``: GSM8K templates with fresh names and numbers, solutions in GSM8K form.

    The split is a seed offset (train: seed, test: seed + 1); test problems whose question is in ``exclude``
    (the training questions) are dropped, so the two never overlap. reasoning-gym appends an instruction to
    each question ("Give the result as your final answer..."); it is cut so the prompts read like GSM8K's.
    About 5% of its solutions end in ``#### 18.0``; the line is rewritten with the normalised answer, so the
    model is not taught two spellings of an integer.
    """
    import reasoning_gym

    n = size or SYNTHETIC_SIZES[split]
    data = reasoning_gym.create_dataset("gsm_symbolic", seed=seed + (split != "train"), size=n)
    rows = [
        gsm8k_row(
            x["question"].removesuffix(SYNTHETIC_SUFFIX),
            f"{x['metadata']['answer_cot'].rsplit(MARKER, 1)[0]}{MARKER} {normalise_number(x['answer'])}",
        )
        for x in data
    ]
    return _rows([r for r in rows if r["instruction"] not in exclude])


@dataclass(frozen=True)
class Source:
    load: Callable  # load(split, data_dir=, hub_path=, hub_name=, seed=, size=, exclude=) -> Dataset
    splits: tuple[str, ...]  # the splits it has; the first is the training split
    scored: bool  # rows carry a final answer, so it can be scored (the eval set)
    generated: bool = False  # made on the fly: the eval rows must be kept apart from the training rows


SOURCES: dict[str, Source] = {
    "gsm8k": Source(load_gsm8k, ("train", "test"), scored=True),
    "metamathqa": Source(load_metamathqa, ("train",), scored=True),
    "alpaca": Source(load_alpaca, ("train",), scored=False),
    "gsm8k_synthetic": Source(load_gsm8k_synthetic, ("train", "test"), scored=True, generated=True),
}
