"""Benchmarks: each is one command printing its figures and a one-line summary."""
