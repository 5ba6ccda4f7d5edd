"""The simulated server: an OpenAI-compatible streaming endpoint with a configurable latency model.

It is a simulator, not a model: it streams placeholder tokens on a schedule
drawn from :class:`~glmbench.sim.config.SimConfig`, and can log the moment it
wrote each chunk so that a client's measurements can be checked against it.
"""
