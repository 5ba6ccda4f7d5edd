"""The mean of a few values and its 95% confidence interval (Student t), for figures measured once per repeat.

A handful of repeats is too few for a normal interval: with three the t
quantile is 4.30, not 1.96. The quantiles are tabled up to 30 degrees of
freedom and expanded (Cornish-Fisher) beyond, so no scipy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["t_quantile_975", "mean_interval"]

# Two-sided 95%: the 0.975 quantile of Student's t with 1..30 degrees of freedom.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)
_Z975 = 1.959964


def t_quantile_975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom (at least 1)."""
    if dof < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if dof <= len(_T975):
        return _T975[dof - 1]
    z = _Z975
    return (z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * dof ** 3))


def mean_interval(values: Sequence[float]) -> tuple[float, float, float] | None:
    """``(mean, low, high)``: the mean and its two-sided 95% Student t interval; None for fewer than two values.

    The interval is ``mean -+ t(n - 1) * s / sqrt(n)``, ``s`` the sample standard deviation.
    """
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile_975(n - 1) * math.sqrt(var / n)
    return mean, mean - half, mean + half
