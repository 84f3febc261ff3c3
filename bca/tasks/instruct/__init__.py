"""Instruction tuning: causal-LM fine-tuning on instruction data, scored by GSM8K exact-match accuracy.

sources (datasets -> one text layout) -> task (``kind: instruct`` loader) -> prompts (template, response-only
labels) -> batching (length buckets) -> runtime (train loader + evaluate) -> generate (batched greedy) ->
answers (``#### n`` / last number, exact match).
"""
