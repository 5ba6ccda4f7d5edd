"""Arrival schedules: when each request is due, as offsets from the workload's start."""

from __future__ import annotations

import math
import random
from typing import Literal

__all__ = ["arrival_offsets_ns", "Ramp"]

Ramp = Literal["linear", "exponential"]


def arrival_offsets_ns(count: int, request_rate: float | None, burstiness: float, seed: int,
                       ramp: Ramp | None = None, ramp_to: float | None = None) -> list[int]:
    """Due times in ns after t0 for ``count`` requests.

    ``request_rate`` None: all due at 0 (burst, or closed loop under a cap).
    Otherwise gaps are gamma distributed with shape ``burstiness`` and mean
    ``1 / request_rate`` (shape 1 is a Poisson process, the coefficient of
    variation of the gaps is ``1 / sqrt(burstiness)``, as vLLM's
    ``--burstiness``); the first request is due at 0, as in vLLM's and SGLang's
    clients. The gaps are then scaled together so that the last request is due
    at ``(count - 1) / request_rate``: the offered rate is exactly the one asked
    for whatever the seed (150 Poisson arrivals alone would miss 5 req/s by 8%
    one time in three), while the spread of the gaps is kept. vLLM's client
    rescales its schedule the same way. The same seed gives the same schedule.

    With a ``ramp`` the rate moves from ``request_rate`` to ``ramp_to`` over the
    whole schedule, ``linear`` in time or ``exponential`` (a constant growth
    factor per second): the gamma process is drawn at unit rate and mapped onto
    the ramp's clock (the time at which the ramp's expected arrivals reach each
    draw), so the burstiness is that of every stretch of the ramp, and the
    expected arrivals over the schedule are exactly ``count - 1``.
    """
    if request_rate is None:
        return [0] * count
    rng = random.Random(seed)
    times, t = [], 0.0
    for i in range(count):
        if i:
            t += rng.gammavariate(burstiness, 1.0 / burstiness)
        times.append(t)
    # On the unit clock: scaled so that the last arrival is exactly the (count - 1)-th expected one.
    arrivals = [x * (count - 1) / t for x in times] if t > 0 else times
    if ramp is None or ramp_to is None or ramp_to == request_rate:
        return [round(x / request_rate * 1e9) for x in arrivals]
    r0, r1, n = request_rate, ramp_to, max(count - 1, 1)
    if ramp == "linear":
        span = 2 * n / (r0 + r1)  # the rate's mean over the ramp is (r0 + r1) / 2
        slope = (r1 - r0) / span
        # expected arrivals by time s: r0 s + slope s^2 / 2 = x  ->  s = (sqrt(r0^2 + 2 slope x) - r0) / slope
        seconds = [(math.sqrt(max(r0 * r0 + 2 * slope * x, 0.0)) - r0) / slope for x in arrivals]
    else:
        growth = math.log(r1 / r0)
        span = n * growth / (r1 - r0)  # r(s) = r0 exp(growth s / span); its integral over the ramp is n
        # expected arrivals by time s: r0 span (exp(growth s / span) - 1) / growth = x
        seconds = [span / growth * math.log1p(x * growth / (r0 * span)) for x in arrivals]
    return [round(s * 1e9) for s in seconds]
