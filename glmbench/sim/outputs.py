"""The words a simulated reply says, and the logprobs behind each: a placeholder cycle, or a function of the prompt.

``outputs: cycle`` (the default) says :data:`WORDS` over and over, whatever
the prompt. ``outputs: by-prompt`` says words of :data:`VOCAB` drawn from a
generator seeded with the SHA-256 of the prompt text, so one prompt gets the
same tokens (and, without ``ignore_eos``, the same length) on every request
and every simulator process, whatever the seed, load or dialect: what an
output-equivalence check needs from a greedy server.

Each position has a ranked list of candidates, the emitted word first. The
top-1/top-2 margin is ``logprob_margin``, except at a ``diverge`` spec's
position for the prompts it matches, where it is the spec's ``margin`` (a near
tie), diverged or not. A divergence swaps the top two there, so a reference
run's top-2 alternative at that position is the diverged run's token, and
goes on from there with a continuation seeded by the prompt and the position.
"""

from __future__ import annotations

import hashlib
import math
import random

from glmbench.sim.config import Divergence, SimConfig

__all__ = ["CycleTokens", "PromptTokens", "Tokens", "VOCAB", "WORDS", "ranked_logprobs"]

WORDS = ("the ", "model ", "streams ", "a ", "token ", "per ", "step ", "and ", "then ", "stops ")
VOCAB = tuple(f"{w} " for w in (
    "able", "acid", "aged", "also", "area", "army", "away", "baby", "back", "ball", "band", "bank", "base", "bath",
    "bear", "beat", "been", "beer", "bell", "belt", "best", "bill", "bird", "blow", "blue", "boat", "body", "bomb",
    "bond", "bone", "book", "boom", "born", "boss", "both", "bowl", "bulk", "burn", "bush", "busy", "call", "calm",
    "came", "camp", "card", "care", "case", "cash", "cast", "cell", "chat", "chip", "city", "club", "coal", "coat",
    "code", "cold", "come", "cook", "cool", "cope", "copy", "core", "cost", "crew", "crop", "dark", "data", "date",
    "dawn", "days", "dead", "deal", "dean", "dear", "debt", "deep", "deny", "desk", "dial", "diet", "disc", "disk",
    "does", "done", "door", "dose", "down", "draw", "drew", "drop", "drug", "dual", "duke", "dust", "duty", "each",
))
# The chance mass of the top two candidates: the rest, ranked third on, shares what is left.
_TOP_TWO_MASS = 0.97
MAX_TOP_LOGPROBS = 20  # vLLM's default --max-logprobs


def ranked_logprobs(margin: float, k: int) -> list[float]:
    """Logprobs of the top ``k`` candidates when top-1 leads top-2 by ``margin``.

    Top-1 and top-2 share 0.97 of the chance (top-1 = log 0.97 - log(1 + e^-margin),
    about -0.08 at margin 3); third and later fall 4, 5, 6... below top-2, so the
    total stays under 1.
    """
    top1 = math.log(_TOP_TWO_MASS) - math.log1p(math.exp(-margin))
    out = [top1, top1 - margin][:k]
    out += [top1 - margin - 4 - j for j in range(k - 2)]
    return out


class Tokens:
    """A reply's output tokens: the word at each position, its top-2 alternative, and the margin between them."""

    logprob_margin: float

    def words(self, start: int, end: int) -> list[str]:
        """The words at positions ``start .. end``."""
        raise NotImplementedError

    def text(self, start: int, end: int) -> str:
        """The words at positions ``start .. end``, joined."""
        return "".join(self.words(start, end))

    def second(self, i: int) -> str:
        """The top-2 candidate at position ``i``: a word other than the one emitted."""
        raise NotImplementedError

    def margin(self, i: int) -> float:
        """Top-1 logprob minus top-2 logprob at position ``i``."""
        return self.logprob_margin

    def ranked(self, i: int, k: int) -> list[tuple[str, float]]:
        """The top ``k`` candidates at position ``i`` with their logprobs, the emitted word first."""
        k = min(k, len(VOCAB))
        (word,) = self.words(i, i + 1)
        names = [word, self.second(i)][:k]
        j = i * 7  # third and later: the vocabulary in order from a place that moves with the position
        while len(names) < k:
            candidate = VOCAB[j % len(VOCAB)]
            if candidate not in names:
                names.append(candidate)
            j += 1
        return list(zip(names, ranked_logprobs(self.margin(i), k)))


class CycleTokens(Tokens):
    """:data:`WORDS` over and over; the top-2 candidate is the word that comes next in the cycle."""

    def __init__(self, logprob_margin: float) -> None:
        self.logprob_margin = logprob_margin

    def words(self, start: int, end: int) -> list[str]:
        return [WORDS[i % len(WORDS)] for i in range(start, end)]

    def text(self, start: int, end: int) -> str:
        return "".join(WORDS[i % len(WORDS)] for i in range(start, end))

    def second(self, i: int) -> str:
        return WORDS[(i + 1) % len(WORDS)]


def _generator(*parts: bytes) -> random.Random:
    """A generator seeded by the SHA-256 of ``parts``: the same in every process (no hash randomisation)."""
    return random.Random(int.from_bytes(hashlib.sha256(b"\0".join(parts)).digest(), "big"))


def _draw(rng: random.Random, n: int) -> tuple[list[int], list[int]]:
    """``n`` positions of (word, top-2 word) vocabulary indices, drawn in position order so a prefix never moves."""
    size = len(VOCAB)
    words, seconds = [], []
    for _ in range(n):
        word = int(rng.random() * size)
        words.append(word)
        seconds.append((word + 1 + int(rng.random() * (size - 1))) % size)
    return words, seconds


def _holds(spec: Divergence, in_flight: int) -> bool:
    if spec.when in ("always", "never"):
        return spec.when == "always"
    return (spec.when == "loaded") == (in_flight > 1)


class PromptTokens(Tokens):
    """The words of one prompt: a function of its text, diverged where a ``diverge`` spec says.

    ``length`` is ``max_tokens`` with ``ignore_eos``, otherwise drawn from the
    prompt between half and all of ``max_tokens``. ``diverged_at`` is the
    position where this reply left the prompt's own sequence, or None.
    """

    def __init__(self, cfg: SimConfig, prompt: str, max_tokens: int, ignore_eos: bool, in_flight: int) -> None:
        self.logprob_margin = cfg.logprob_margin
        text = prompt.encode()
        rng = _generator(b"by-prompt", text)
        share = 0.5 + 0.5 * rng.random()
        self.length = max_tokens if ignore_eos else max(1, round(max_tokens * share))
        words, seconds = _draw(rng, self.length)
        spec = next((d for d in cfg.diverge if d.prompt in prompt), None)
        self.margins: dict[int, float] = {}
        self.diverged_at: int | None = None
        if spec is not None and spec.at < self.length:
            at = spec.at
            self.margins[at] = spec.margin
            if _holds(spec, in_flight):
                # The greedy pick flips at the near tie: the old top-2 is emitted, the old top-1 becomes top-2.
                words[at], seconds[at] = seconds[at], words[at]
                words[at + 1:], seconds[at + 1:] = _draw(_generator(b"diverge", text, b"%d" % at), self.length - at - 1)
                self.diverged_at = at
        self._words = [VOCAB[w] for w in words]
        self._seconds = [VOCAB[w] for w in seconds]

    def words(self, start: int, end: int) -> list[str]:
        return self._words[start:end]

    def text(self, start: int, end: int) -> str:
        return "".join(self._words[start:end])

    def second(self, i: int) -> str:
        return self._seconds[i]

    def margin(self, i: int) -> float:
        return self.margins.get(i, self.logprob_margin)
