"""Matplotlib set-up shared by the plots: a display-free backend, quiet minor ticks, write-and-close."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers/CI
    import matplotlib.pyplot as plt

    return plt


def no_labels():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def save(plt, fig, path: Path, dpi: int = 120) -> Path:
    """Lay out, write and close (an open figure per plot adds up over a big table's tasks)."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
