"""The FFT kernels the adapters call: block-circulant products (``circulant``) and CDD's chain (``circulant_cdd``).

Plain torch (custom autograd Functions, fp32 FFT maths); they know nothing of peft, configs or runs, so they
may import only each other.
"""
