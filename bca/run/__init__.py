"""Run: one composed config -> one record (``runner``), through the fit loop (``fit``) with checkpoints.

``runner`` prepares (task, model, method), fits and writes the record; ``fit`` is the training loop read top to
bottom; ``checkpoint`` resumes it; ``lock`` keeps two processes off one run; ``records`` is the record format,
its run id and its atomic write; ``tracking`` wandb; ``disk``, ``system``, ``compare`` and ``process`` small
helpers. May import: ``bca.config``, ``bca.methods``, ``bca.models``, ``bca.tasks``, ``bca.count``.
Never ``bca.report``, ``bca.paper`` or ``bca.cli``.
"""
