"""The one markdown table writer: every table the suite prints (bca-table, bca-count, benchmark reports)."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table (no trailing newline); cells are written with ``str``, so format them first."""
    lines = ["| " + " | ".join(str(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
