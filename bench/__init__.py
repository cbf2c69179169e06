"""Benchmarks: run each module with `python -m bench.<name>`; results in bench/README.md."""
