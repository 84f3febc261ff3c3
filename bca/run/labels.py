"""The table row a record belongs to: its ``row:<label>`` tag (``bca-reproduce``), else its method's label.

Written into each record's wandb columns by the runner (``compare.label``) and read by every report, so a run
and its table row are named the same everywhere.
"""

from __future__ import annotations

ROW_TAG = "row:"
"""Prefix of the tag that names a record's experiment row (``tags=['row:<label>']``)."""


def record_row(record: dict) -> str | None:
    """The experiment row a record was run for (its ``row:<label>`` tag), or None."""
    for tag in record["config"].get("tags") or []:
        if isinstance(tag, str) and tag.startswith(ROW_TAG):
            return tag[len(ROW_TAG) :]
    return None


def method_label(method: dict) -> str:
    """A row label for records without a row tag: the method and its settings (its registration, bca.methods)."""
    from bca.methods import row_label

    return row_label(method)


def row_label(record: dict) -> str:
    tagged = record_row(record)
    if tagged:
        return tagged
    if (record["config"].get("trainer") or {}).get("max_steps") == 0:
        return "zero-shot"  # evaluated untrained (trainer.max_steps=0): the base model whatever the method
    return method_label(record["config"]["method"])
