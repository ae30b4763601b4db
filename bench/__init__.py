"""Benchmarks: rerunnable measurements behind README's performance figures (see bench/README.md)."""
