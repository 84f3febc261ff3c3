"""What every task loader returns, and the one error they raise.

Kept apart from ``registry.py`` so loaders can import these without importing the registry (which imports
the loaders).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import datasets


class TaskDataError(ValueError):
    """Task data could not be loaded; the message says what was looked for and how to get it."""


@dataclass
class TaskSplits:
    """Train/eval data in one column layout for every classification task.

    Columns: ``sentence1`` (str), ``sentence2`` (str, pair tasks only) and ``label`` (int class id, or float
    for regression). Class ids follow the Hugging Face GLUE conventions, so hub and TSV data are
    interchangeable.
    """

    name: str
    train: datasets.Dataset
    eval: datasets.Dataset
    text_fields: tuple[str, ...]
    num_labels: int | None  # None: a generative (instruction) task, scored on generated text
    metric_for_best: str
    label_names: list[str] | None = None

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1


def hub_unreachable_reason(timeout: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be used right now, or None if it may be.

    ``datasets`` retries an unreachable hub for ~25 s before failing, so we probe the endpoint first (one TCP
    connect, ``timeout`` seconds) and fail at once instead. Offline mode is not a reason to stop: ``datasets``
    then serves cached copies and fails in ~0 s when there is none. With a proxy configured a direct connect
    proves nothing, so we skip the probe.
    """
    import socket
    import threading
    from urllib.parse import urlparse

    if datasets.config.HF_HUB_OFFLINE:
        return None
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    outcome: list[str | None] = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(f"cannot reach {host}:{port} ({err})")

    # getaddrinfo has no timeout of its own: run in a daemon thread so a hanging DNS lookup cannot block us.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return outcome[0] if outcome else f"cannot reach {host}:{port} (no answer in {timeout:.0f} s)"
