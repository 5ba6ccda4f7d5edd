"""Reads that merged chunks: with kernel receive stamps, the one way a late client still moves a figure.

A kernel receive stamp (``SO_TIMESTAMPNS``) is the arrival of the *last*
packet a read takes. A stream read promptly gets one read per write of the
server, each stamped at its arrival. A stream read more than one inter-token
gap late gets one read holding two or more writes, and every chunk in it takes
the last one's arrival: the gaps (g, g) become (2g, 0). That moves ITL's
distribution (not the sum of a stream's gaps), and when it is the stream's
first read it moves TTFT by the gaps it swallowed; E2E, the last chunk's
arrival, is not moved.

Chunks that share a stamp are not always the client's doing: a server that
writes several events at once (one token per event under MTP, a flush after a
stall) sends them in one packet, and a prompt read takes them together. The two
are told apart per stream by what is usual for it:

- a read holding more chunks than the stream's usual read (its median chunks per
  read) is a candidate;
- it is a late read when the gap before it spans the writes it holds (at least
  ``writes - 1/2`` of the stream's usual gap between reads: chunks written apart
  arrive apart) and the client read it at least :data:`PROMPT_READ_MS` after its
  last packet arrived (chunks written together and read promptly are read within
  that). A stream's first read has no gap before it on the stream's own clock: the
  read delay alone decides.

The effect is estimated by putting each late read's writes back where the stream's
clock puts them (spread evenly over the gap before the read; for a first read,
the stream's usual gap apart, ending at the stamp) and comparing TTFT (per
request) and pooled ITL, mean and p99, as measured and as put back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmbench.results.records import RequestRecord

__all__ = ["MergedReads", "merged_reads", "PROMPT_READ_MS"]

# A read this soon after its last packet's arrival was prompt: chunks that share its stamp were written together.
# A prompt read on loopback takes tens of microseconds; a late one lands anywhere within a gap after the arrival.
PROMPT_READ_MS = 0.2


@dataclass(frozen=True)
class MergedReads:
    """What merged reads did to one workload's kernel-stamped records.

    ``late``: reads that held chunks the server wrote apart (the client read late);
    ``late_chunks``: the chunks in them stamped at a later chunk's arrival;
    ``server``: the other reads of more than one chunk, which the server wrote
    together (no figure is moved by them); ``*_error_ms_*``: measured minus put back,
    TTFT per request (mean, p99) and pooled ITL (the means' and the p99s'
    differences), in ms.
    """

    late: int = 0
    late_chunks: int = 0
    server: int = 0
    ttft_error_ms_mean: float = 0.0
    ttft_error_ms_p99: float = 0.0
    itl_error_ms_mean: float = 0.0
    itl_error_ms_p99: float = 0.0


@dataclass
class _Stream:
    """One kernel-stamped record's reads: the first chunk of each, its stamp, chunk count and read delay."""

    stamps: np.ndarray  # every chunk's stamp (ns)
    first: np.ndarray  # index of each read's first chunk
    sizes: np.ndarray  # chunks per read
    delays: np.ndarray | None  # the client's read delay of each read (ns), when recorded

    @classmethod
    def of(cls, r: RequestRecord) -> _Stream:
        stamps = np.asarray(r.chunk_ns, dtype=np.int64)
        new = np.ones(len(stamps), dtype=bool)
        new[1:] = stamps[1:] != stamps[:-1]
        first = np.flatnonzero(new)
        sizes = np.diff(np.append(first, len(stamps)))
        delays = (np.asarray(r.chunk_delay_ns, dtype=np.int64)[first]
                  if len(r.chunk_delay_ns) == len(r.chunk_ns) else None)
        return cls(stamps, first, sizes, delays)

    def late_reads(self) -> tuple[list[int], int, float]:
        """The reads that held writes made apart, the stream's usual chunks per read and its usual gap (ns)."""
        sizes, n = self.sizes, len(self.sizes)
        if n < 2:
            return [], 1, 0.0  # one read: no clock of the stream's own to judge it by
        usual = max(1, int(np.median(sizes[1:])))
        gaps = np.diff(self.stamps[self.first]).astype(np.float64)  # before reads 1..n-1
        typical = gaps[sizes[1:] <= usual]
        gap = float(np.median(typical if len(typical) else gaps))
        late = []
        for i in np.flatnonzero(sizes > usual):
            if self.delays is not None and self.delays[i] < PROMPT_READ_MS * 1e6:
                continue  # read promptly: the server wrote them together
            if self.delays is None and i == 0:
                continue  # no read delay and no gap on the stream's clock: nothing says it was late
            writes = sizes[i] / usual
            if i > 0 and gaps[i - 1] < (writes - 0.5) * gap:
                continue  # arrived after one usual gap: written together
            late.append(int(i))
        return late, usual, gap

    def put_back(self, late: Sequence[int], usual: int, gap: float, start_ns: int) -> np.ndarray:
        """Every chunk's stamp with each late read's writes put where the stream's clock puts them."""
        out = self.stamps.astype(np.float64)
        for i in late:
            lo, k = int(self.first[i]), int(self.sizes[i])
            writes = max(2, round(k / usual))
            stamp = float(self.stamps[lo])
            which = np.arange(k) * writes // k  # the write each chunk of the read came in, 0..writes-1
            if i == 0:
                at = stamp - (writes - 1 - which) * gap
                out[lo:lo + k] = np.maximum(at, float(start_ns))
            else:
                before = float(self.stamps[self.first[i - 1]])
                out[lo:lo + k] = before + (which + 1) * (stamp - before) / writes
        return out


def merged_reads(records: Sequence[RequestRecord]) -> MergedReads | None:
    """Late and server-merged reads of the kernel-stamped records, and their estimated effect on TTFT and ITL;
    None when no completed record has kernel stamps."""
    done = [r for r in records if r.ok and r.chunk_ns]
    if not any(r.stamps == "kernel" for r in done):
        return None
    late = late_chunks = server = 0
    fixed: dict[int, np.ndarray] = {}  # the put-back stamps of the records with a late read, by position in done
    for n, r in enumerate(done):
        if r.stamps != "kernel" or len(set(r.chunk_ns)) == len(r.chunk_ns):
            continue  # user stamps, or one read per chunk
        stream = _Stream.of(r)
        found, usual, gap = stream.late_reads()
        late += len(found)
        server += int(np.count_nonzero(stream.sizes > 1)) - len(found)
        late_chunks += sum(int(stream.sizes[i]) - usual for i in found)
        if found:
            fixed[n] = stream.put_back(found, usual, gap, r.start_ns)
    if not late:
        return MergedReads(server=server)
    ttft = np.asarray([r.chunk_ns[0] - fixed[n][0] if n in fixed else 0.0
                       for n, r in enumerate(done) if r.stamps == "kernel"]) / 1e6
    multi = [(n, r) for n, r in enumerate(done) if len(r.chunk_ns) > 1]
    gaps = np.concatenate([np.diff(np.asarray(r.chunk_ns, dtype=np.float64)) for _, r in multi]) / 1e6
    back = np.concatenate([np.diff(fixed[n]) if n in fixed else np.diff(np.asarray(r.chunk_ns, dtype=np.float64))
                           for n, r in multi]) / 1e6
    return MergedReads(late=late, late_chunks=late_chunks, server=server,
                       ttft_error_ms_mean=float(ttft.mean()), ttft_error_ms_p99=float(np.percentile(ttft, 99)),
                       itl_error_ms_mean=float(gaps.mean() - back.mean()),
                       itl_error_ms_p99=float(np.percentile(gaps, 99) - np.percentile(back, 99)))
