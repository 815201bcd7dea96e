"""Measurement, a wing of the package: timings of the hot paths (benchmark), the FLOP model (flops), A/B
comparisons (ab, precision), the committed benchmark records (records) and XLA's loops (hlo). The agent at the core
never imports it."""
