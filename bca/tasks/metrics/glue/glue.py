"""GLUE metrics as a local ``evaluate`` module, so scoring works without the hub.

Same config names and outputs as the hub's ``glue`` metric (cola -> matthews_correlation; stsb -> pearson,
spearmanr; mrpc/qqp -> accuracy, f1; the rest -> accuracy), plus ``rotten_tomatoes`` -> accuracy. Load with
``evaluate.load("<path>/bca/metrics/glue", "rte")`` or ``bca.tasks.metrics.load_glue_metric("rte")``; ``evaluate``
finds the script because its file name matches the folder name. Self-contained on purpose: ``evaluate``
copies this file into its module cache and imports it from there.
"""

import datasets
import evaluate
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

TASK_OUTPUTS = {
    "cola": ("matthews_correlation",),
    "sst2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"),
    "stsb": ("pearson", "spearmanr"),
    "mnli": ("accuracy",),
    "mnli_matched": ("accuracy",),
    "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
    "hans": ("accuracy",),
    "rotten_tomatoes": ("accuracy",),
}
"""Config name -> the keys ``compute`` returns (the first is the usual main metric)."""

_DESCRIPTION = "GLUE evaluation metrics (offline copy of the hub's `glue` metric) plus Rotten Tomatoes accuracy."
_CITATION = """@inproceedings{wang2019glue,
  title={GLUE: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer
          and Bowman, Samuel R.},
  booktitle={ICLR}, year={2019}
}"""
_INPUTS = """
Args:
    predictions: predicted class ids (float scores for stsb).
    references: gold class ids (float scores for stsb).
Returns: a dict with the keys of TASK_OUTPUTS[config_name], each a float.
"""


class Glue(evaluate.Metric):
    def _info(self):
        if self.config_name not in TASK_OUTPUTS:
            raise KeyError(f"unknown GLUE metric config {self.config_name!r}; valid: {sorted(TASK_OUTPUTS)}")
        # float32 for stsb as in the hub metric, so both give the same numbers
        dtype = "float32" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value(dtype), "references": datasets.Value(dtype)}),
            reference_urls=["https://gluebenchmark.com/"],
            format="numpy",
        )

    def _compute(self, predictions, references):
        out = {}
        for name in TASK_OUTPUTS[self.config_name]:
            if name == "accuracy":
                out[name] = float((predictions == references).mean())
            elif name == "f1":
                out[name] = float(f1_score(y_true=references, y_pred=predictions))
            elif name == "matthews_correlation":
                out[name] = float(matthews_corrcoef(references, predictions))
            elif name == "pearson":
                out[name] = float(pearsonr(predictions, references)[0])
            elif name == "spearmanr":
                out[name] = float(spearmanr(predictions, references)[0])
        return out
