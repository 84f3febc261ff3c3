"""The task config: which data to load and how to score it.

A plain dataclass (no Hydra import) so the library can be used without Hydra; ``bca.config.schema`` uses it as the
structured-config schema of the ``task`` group, so a typo such as ``task.max_train_sample=100`` fails at
composition. Only primitive / optional fields: OmegaConf must be able to type-check every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class TaskConfig:
    name: str = MISSING  # "rte", "rotten_tomatoes", ... (GLUE: the hub config name)
    kind: str = "glue"  # which loader: see bca.tasks.registry.TASK_KINDS
    hub_path: str | None = "nyu-mll/glue"  # hub dataset id (used when data_dir is None)
    hub_name: str | None = None  # hub config name; None: the task name
    data_dir: str | None = None  # local folder in the original GLUE TSV layout: <data_dir>/<RTE|CoLA|...>/
    eval_split: str = "validation"  # MNLI: validation_matched | validation_mismatched
    num_labels: int | None = 2  # 1 = regression (STS-B); None = generative (instruction tasks); checked vs the data
    metric_for_best: str = "accuracy"  # main metric: matthews_correlation (CoLA), pearson (STS-B), ...
    max_train_samples: int | None = None  # a seeded random subset of this many training rows (file order kept)
    max_eval_samples: int | None = None  # the first N evaluation rows (as run_glue does)
    seed: int = 42  # seeds the Rotten Tomatoes split and the training subset
    # tuning runs (bca-reproduce --tune): train on the training rows minus a stratified slice, score on the slice
    holdout: float | None = None  # a fraction in (0, 1) or a row count; None: train on all, score on eval_split
    holdout_seed: int = 0  # which slice
    # instruction tasks (kind=instruct) only:
    eval_task: str | None = None  # the dataset scored after training (alpaca -> gsm8k); None: this task's own
    eval_data_dir: str | None = None  # local files of eval_task (None: the hub)
    max_length: int | None = None  # tokens per training example; None: trainer.max_length
    max_new_tokens: int = 256  # generation budget per eval problem
    # greedy generation + exact match at each evaluation; false: the teacher-forced losses only (a selection run
    # that picks by heldout_loss pays ~5 s per problem for nothing; needs task.metric_for_best=heldout_loss)
    generate: bool = True
    # teacher-forced losses (bca.tasks.instruct.heldout), measured at step 0 and at every evaluation; 0 = off:
    heldout_loss_samples: int = 0  # response NLL on the first N problems of the scored eval split
    heldout_loss_every: int = 0  # also every this many steps (a loss curve between evaluations); 0: never
    forgetting_samples: int = 0  # LM loss on N seeded general-text rows, tuned minus base model (forgetting)
    forgetting_task: str = "alpaca"  # the instruction source those rows come from (bca.tasks.instruct.sources)
    forgetting_data_dir: str | None = None  # its local file; None: the hub
    forgetting_hub_path: str | None = None  # its hub dataset id; None: the source's default
