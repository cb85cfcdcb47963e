"""Benchmarks of the matchmaker's components (run as ``python -m bench.<name>``)."""
