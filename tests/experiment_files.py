"""A small experiment file for a test: written to ``tmp_path``, loaded the way ``bca-table`` loads one, and
(optionally) the given records tagged as its runs, which is what ``tables.build`` selects them by."""

from pathlib import Path

from bca.paper import experiments


def experiment_file(tmp_path: Path, text: str, records=(), name: str = "e") -> experiments.Experiment:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    exp = experiments.load(str(path))
    for r in records:
        r["config"]["experiment"] = exp.name
    return exp
