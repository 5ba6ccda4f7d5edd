"""Backends: how a server is started, when it is ready, and how it is stopped."""
