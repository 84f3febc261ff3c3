"""The FFT kernels the adapters call: block-circulant products (``circulant``) and CDD's chain (``circulant_cdd``),
BCA's merged-weight path (``circulant_merged``), the per-call choice between the two (``exec_path``) and the
per-device layout/mixing helpers both use (``circulant_ops``).

Plain torch (custom autograd Functions, fp32 FFT maths); they know nothing of peft, configs or runs, so they
may import only each other.
"""
