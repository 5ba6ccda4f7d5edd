"""Output formats: one module per way of showing a report, each behind :class:`~glmbench.report.formats.base.OutputFormat`.

A module here that defines ``FORMAT`` is found by its name (what
``glmbench report --format`` takes) through :mod:`glmbench.report.formats.registry`;
adding a format is adding a module.
"""
