"""Request traces replayed as workloads: one module per trace format, found by :mod:`.registry`."""
