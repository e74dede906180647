"""Benchmarks: symdiff against hand-written NumPy and against peer libraries.

Run from the repository root with `python -m bench` (see bench/README.md).
This package must not import NumPy at import time: `bench/__main__.py` fixes
the thread counts of every numerical library first, and that only works before
NumPy and the peers are loaded.
"""
