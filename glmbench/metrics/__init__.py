"""Metrics computed from stored request records after a run (raw ns in, display units out)."""
