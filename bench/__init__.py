"""Benchmarks of the course's own recipes and pipelines (``make bench``).

Everything is measured side by side in one run on the same machine, and reported as medians over
repeats and ratios within the run: absolute seconds on a shared 2-core machine mean little.
Results: ``bench/results/latest.md`` (for people) and ``bench/results/latest.json``.
"""
