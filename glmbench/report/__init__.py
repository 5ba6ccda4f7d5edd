"""Tables and other renderings of stored results (never of live runs)."""
