"""Reports of stored results (never of live runs): what they show, worked out once, drawn by one module per format.

- :mod:`~glmbench.report.model`: the kinds of report and :func:`~glmbench.report.model.open_report`, over the
  analysis in :mod:`~glmbench.report.load_run`, :mod:`~glmbench.report.bfcl_run`, :mod:`~glmbench.report.tables`
  (runs side by side) and :mod:`~glmbench.report.experiment`;
- :mod:`~glmbench.report.figures`, :mod:`~glmbench.report.distribution_figures` and
  :mod:`~glmbench.report.experiment_figures`: the matplotlib figures, drawn alike by :mod:`~glmbench.report.axes`;
- :mod:`~glmbench.report.formats`: one module per output format (table, json, md, csv, html, plots), found by name.
"""
