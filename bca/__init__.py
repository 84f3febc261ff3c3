"""bca: reproduction and benchmark suite for circulant and Fourier-domain PEFT."""
