"""Benchmark of the worker against a bare LiveKit Agents worker (``python -m bench``)."""
