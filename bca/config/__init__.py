"""Config: the typed schema, Hydra composition, and every check made before a run starts.

``schema`` (typed dataclasses Hydra validates against), ``hydra_app`` (compose, schemas, config search path),
``hydra_overrides`` (what a command line's overrides get wrong, as one line each), ``hydra_parser`` (the one
use of Hydra's private parser), ``validate`` / ``value_checks`` (a composed config against the model, method
and task) and ``preflight`` (a whole sweep or experiment, every job at once).
May import: ``bca.methods``, ``bca.models``, ``bca.tasks``, ``bca.adapters.base`` (what it validates).
Never ``bca.run``, ``bca.report`` or ``bca.paper``: they import config, not the other way round.
"""
