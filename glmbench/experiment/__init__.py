"""Experiments: server configurations x load points x BFCL and equivalence suites, from one file, into one folder.

- :mod:`~glmbench.experiment.file`: the experiment file model, expanded into cells and points;
- :mod:`~glmbench.experiment.index`: the typed, versioned ``index.json``;
- :mod:`~glmbench.experiment.searches`: one module per search kind (ladder, sweep, capacity) behind one Protocol;
- :mod:`~glmbench.experiment.executors`: where cells run (local, Ray) behind one Protocol;
- :mod:`~glmbench.experiment.plan`, :mod:`~glmbench.experiment.run`: the plan and its estimate, and the run;
- :mod:`~glmbench.experiment.analysis`: what a finished folder says (frontier, best server, outputs against the
  reference server's), for report/ to render.

A feature beside ``load/`` and ``bfcl/``: what it needs of the library layer
comes in as a :class:`~glmbench.experiment.executors.base.Lab`, given by
:mod:`glmbench.api.experiment`, the entry point to call.
"""
