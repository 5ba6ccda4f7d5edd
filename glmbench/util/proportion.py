"""The confidence interval of a proportion (an accuracy: entries passed of entries asked).

Here rather than with the verdict rules because both the BFCL summaries (which
show each accuracy's interval) and ``compare`` (which judges with it) need it,
and the BFCL feature must not import ``compare``.
"""

from __future__ import annotations

import math

__all__ = ["Z95", "wilson_interval"]

Z95 = 1.959964
"""The standard normal quantile of a two-sided 95% interval."""


def wilson_interval(correct: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``correct`` of ``total`` (fractions, 0..1); (0, 1) without entries.

    Unlike the normal approximation it stays inside 0..1 and keeps its coverage
    near an accuracy of 0% or 100% and in categories of a dozen entries.
    """
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
