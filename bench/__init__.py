"""Sightline benchmarks: `python -m bench` (or `make bench`) starts what it needs and reports."""
