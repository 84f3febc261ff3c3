"""Count: trainable parameters and FLOPs, analytic and measured, cross-checked.

``flops`` (the analytic formulas, a leaf every method registration cites), ``flop_counter`` (FlopCounterMode
with FFT and complex-matmul formulas), ``counting`` (a model x method on the meta device, what ``bca-count``
prints and every record carries). May import: ``bca.methods``, ``bca.models``. Never ``bca.run`` or above.
"""
