"""The template repository's test harness: render, install, serve, measure.

Imported by tests/ (pytest.ini puts the repository root on the path) and by
benchmarks/ (run as `python -m benchmarks.<name>` from the root).
"""
