"""Where an experiment's cells run: ``local`` (one after another here) or ``ray`` (over a cluster), one module each
behind :class:`~glmbench.experiment.executors.base.Executor`."""
