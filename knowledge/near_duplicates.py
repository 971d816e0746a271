"""Near-duplicate sources: two conversions of one document must not both be cited.

Copies are found by character-shingle overlap (robust to OCR spacing, reordering and truncation); of a
pair, the copy whose structure has fewer anomalies is kept, ties going to the one listed first.
"""

from __future__ import annotations

from dataclasses import dataclass

SHINGLE = 8
THRESHOLD = 0.6


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    return {text[i : i + size] for i in range(max(len(text) - size + 1, 1))}


def containment(a: set[str], b: set[str]) -> float:
    """Share of the smaller set found in the larger: 1.0 when one copy is a truncated version of the other."""
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small)


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


def choose_copies(candidates: list[Candidate], threshold: float = THRESHOLD) -> list[Decision]:
    """For each near-duplicate pair, which copy to keep and why; every other document is kept."""
    sets = {c.document_id: shingles(c.text) for c in candidates}
    removed: set[str] = set()
    decisions = []
    for i, a in enumerate(candidates):
        for b in candidates[i + 1 :]:
            if a.document_id in removed or b.document_id in removed:
                continue
            overlap = containment(sets[a.document_id], sets[b.document_id])
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
