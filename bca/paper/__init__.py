"""Paper: the papers' tables as data (``experiments``: published numbers + overrides per cell), and running them.

``experiments`` loads ``experiments/*.yaml``; ``tune`` is the lr-selection protocol (grid, held-out slice,
choice); ``reproduce_cells`` / ``reproduce_tune`` compose and run every cell, resumable and shared between
copies through the run locks. May import: ``bca.config`` (compose, preflight), ``bca.run`` (runner, records,
lock). Never ``bca.report`` or ``bca.cli``; ``bca-reproduce``'s argument parsing is ``bca.cli.bca_reproduce``.
"""
