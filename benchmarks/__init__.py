"""Benchmarks: `python -m benchmarks.<name>` from a checkout (or `memo bench <name>`); see benchmarks/RESULTS.md."""
