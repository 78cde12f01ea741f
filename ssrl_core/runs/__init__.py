"""Runs: the SQLite store, run folders, the worker that executes queued runs."""
