"""The backends glmbench ships: one module each, defining ``BACKEND``; :mod:`glmbench.backends.registry` finds them."""
