"""Parts of the scale benchmark (`benchmarks/bench_scale.py`): item sources, the synthetic release,
the seven-model derivation, measured subprocess steps, the steps' commands and targets, the table."""
