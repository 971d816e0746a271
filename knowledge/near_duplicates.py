"""Near-duplicate sources: two conversions of one document must not both be cited.

Copies are found by character-shingle overlap (robust to OCR spacing, reordering and truncation); of a
pair, the copy whose structure has fewer anomalies is kept, ties going to the one listed first.

Comparing every pair of thousands of documents is too slow, so candidates come from a sketch: one in
SAMPLE shingle hashes (chosen by value, so the same shingles are sampled in every document), indexed by hash.
Only documents sharing many sampled shingles are compared exactly. Hashes found in very many documents —
stock phrases every list uses — are not evidence of copying and are ignored when pairing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SHINGLE = 8
THRESHOLD = 0.6
SAMPLE = 8
COMMON_HASH_DOCS = 50
SKETCH_MARGIN = 0.15  # the sampled estimate is checked exactly only when within this of the threshold
_PRIME = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    return {text[i : i + size] for i in range(max(len(text) - size + 1, 1))}


def containment(a: set[str], b: set[str]) -> float:
    """Share of the smaller set found in the larger: 1.0 when one copy is a truncated version of the other."""
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small)


def sketch(text: str, size: int = SHINGLE) -> NDArray[np.uint64]:
    """Sorted unique hashes of the sampled shingles of a text (a rolling hash, wrapping at 2**64)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < size:
        return np.zeros(0, dtype=np.uint64)
    width = len(codes) - size + 1
    hashes = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(size):
            hashes = hashes * _PRIME + codes[j : j + width]
        hashes = (hashes ^ (hashes >> np.uint64(29))) * _MIX
    return np.unique(hashes[hashes % np.uint64(SAMPLE) == 0])


@dataclass(frozen=True, slots=True)
class Candidate:
    document_id: str
    text: str
    anomalies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    kept: str
    set_aside: str
    overlap: float
    reason: str


def _candidate_pairs(sketches: list[NDArray[np.uint64]], threshold: float) -> list[tuple[int, int]]:
    """Pairs of documents that share many of their *rare* sampled shingles.

    A hash found in more than COMMON_HASH_DOCS documents is a stock phrase (or a template many lists copy); it is
    not evidence that two documents are one. Two conversions of one document still share the shingles no other
    document has — those that cross the boundaries of recombined or templated wording — so each document is
    measured against its own rare hashes.
    """
    postings: dict[int, list[int]] = defaultdict(list)
    for doc, hashes in enumerate(sketches):
        for h in hashes.tolist():
            postings[h].append(doc)
    shared: Counter[tuple[int, int]] = Counter()
    rare: Counter[int] = Counter()
    for docs in postings.values():
        if len(docs) > COMMON_HASH_DOCS:
            continue
        for doc in docs:
            rare[doc] += 1
        for i, a in enumerate(docs):
            for b in docs[i + 1 :]:
                shared[(a, b)] += 1
    # Sampling makes the estimate noisy on short texts: keep pairs well below the threshold for the exact check.
    return sorted(
        pair for pair, n in shared.items() if n >= 0.5 * threshold * max(1, min(rare[pair[0]], rare[pair[1]]))
    )


def choose_copies(candidates: list[Candidate], threshold: float = THRESHOLD) -> list[Decision]:
    """For each near-duplicate pair, which copy to keep and why; every other document is kept."""
    sketches = [sketch(c.text) for c in candidates]
    exact: dict[int, set[str]] = {}
    removed: set[str] = set()
    decisions = []
    for i, j in _candidate_pairs(sketches, threshold):
        a, b = candidates[i], candidates[j]
        if a.document_id in removed or b.document_id in removed:
            continue
        smaller = max(1, min(len(sketches[i]), len(sketches[j])))
        if (
            len(np.intersect1d(sketches[i], sketches[j], assume_unique=True))
            < (threshold - SKETCH_MARGIN) * smaller
        ):
            continue
        overlap = containment(exact.setdefault(i, shingles(a.text)), exact.setdefault(j, shingles(b.text)))
        if overlap < threshold:
            continue
        keep, drop = (b, a) if len(b.anomalies) < len(a.anomalies) else (a, b)
        shown = "; ".join(drop.anomalies[:3]) + ("; …" if len(drop.anomalies) > 3 else "")
        reason = (
            f"{overlap:.0%} of its text overlaps {keep.document_id}; "
            f"{len(drop.anomalies)} structural anomalies against {len(keep.anomalies)}"
            + (f" ({shown})" if shown else "")
        )
        decisions.append(Decision(keep.document_id, drop.document_id, overlap, reason))
        removed.add(drop.document_id)
    return decisions
