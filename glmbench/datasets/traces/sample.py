"""A small Mooncake-format trace made up on the spot, for trying trace replay and for tests (nothing downloaded)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import orjson

__all__ = ["sample_mooncake_trace", "write_sample_trace"]

_BLOCK = 512


def sample_mooncake_trace(n: int = 200, seed: int = 0, span_s: float = 10.0, groups: int = 8,
                          max_output: int = 256) -> list[dict[str, Any]]:
    """``n`` Mooncake records over ``span_s`` seconds, most sharing a prefix with others.

    Arrivals are a Poisson process scaled so the first is at 0 and the last at
    ``span_s``. Each of ``groups`` shared prefixes (a system prompt, a
    document) is 1 to 4 blocks; a request has one of them (one in five has
    none) and then 1 to 3 blocks of its own, its last block cut short by up to
    511 tokens, as a real prompt ends mid-block. Output lengths are 16 to
    ``max_output`` tokens.
    """
    rng = random.Random(seed)
    ids = itertools.count()
    prefixes = [[next(ids) for _ in range(rng.randint(1, 4))] for _ in range(groups)]
    gaps = [rng.expovariate(1.0) for _ in range(n - 1)]
    scale = span_s * 1000 / sum(gaps) if gaps else 0.0
    times = list(itertools.accumulate((g * scale for g in gaps), initial=0.0))
    records = []
    for at_ms in times:
        shared = rng.choice(prefixes) if rng.random() >= 0.2 else []
        hash_ids = shared + [next(ids) for _ in range(rng.randint(1, 3))]
        records.append({"timestamp": round(at_ms), "input_length": len(hash_ids) * _BLOCK - rng.randrange(_BLOCK),
                        "output_length": rng.randint(16, max(16, max_output)), "hash_ids": hash_ids})
    return records


def write_sample_trace(path: Path, n: int = 200, seed: int = 0, span_s: float = 10.0) -> int:
    """Write :func:`sample_mooncake_trace` to ``path`` as JSON lines; the number of requests written."""
    records = sample_mooncake_trace(n, seed, span_s)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return len(records)
