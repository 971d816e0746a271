"""The search index: BM25 weights precomputed per (term, clause), stored as postings sorted by term.

Scoring a question is one scatter-add per question term over that term's postings (bm25s's "eager"
layout). The weights are exactly those of `retrieval.LuceneBM25` — rank-bm25's Okapi scorer with the
Lucene idf — which `tests/test_retrieval.py` checks clause by clause; serving from the arrays instead of
rank-bm25's per-clause dictionaries is what keeps a million clauses within a few milliseconds and a few
hundred megabytes (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from knowledge.retrieval import K1, B

# On a large corpus, terms found in more than this share of clauses add little but cost the most time;
# they are skipped unless they are among the question's few rarest terms. Small corpora are scored exactly.
PRUNE_FROM_CLAUSES = 50_000
KEEP_RAREST = 3
WORD_SHARE = 0.2
BIGRAM_SHARE = 0.05


def encode_vocab(terms: Sequence[str]) -> NDArray[np.uint8]:
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8).copy()


def decode_vocab(data: NDArray[Any]) -> dict[str, int]:
    text = bytes(data).decode("utf-8")
    return {term: i for i, term in enumerate(text.split("\n"))} if text else {}


def build_field(
    prefix: str,
    vocab: Sequence[str],
    ids: NDArray[np.int64],
    lengths: NDArray[np.int64],
    max_share: float = 1.0,
) -> dict[str, NDArray[Any]]:
    """Arrays of one field from its token ids (flat, clause after clause) and each clause's token count.

    On a corpus of PRUNE_FROM_CLAUSES clauses or more, terms in more than `max_share` of the clauses keep their
    statistics but not their postings: the query path skips them there, and they are most of the index's size.
    """
    n_docs = len(lengths)
    docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    keys, tf = np.unique(ids.astype(np.int64) * max(n_docs, 1) + docs, return_counts=True)
    term = keys // max(n_docs, 1)
    doc = (keys % max(n_docs, 1)).astype(np.int32)
    df = np.bincount(term, minlength=len(vocab)).astype(np.int64)
    avgdl = float(lengths.mean()) if n_docs and lengths.sum() else 1.0
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    norm = K1 * (1.0 - B + B * lengths.astype(np.float64) / avgdl)
    weights = idf[term] * tf * (K1 + 1.0) / (tf + norm[doc])
    if n_docs >= PRUNE_FROM_CLAUSES and max_share < 1.0:
        kept = df[term] <= max_share * n_docs
        doc, weights, df = (
            doc[kept],
            weights[kept],
            np.bincount(term[kept], minlength=len(vocab)).astype(np.int64),
        )
    return {
        f"{prefix}_vocab": encode_vocab(vocab),
        f"{prefix}_indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
        f"{prefix}_docs": doc,
        f"{prefix}_weights": weights.astype(np.float32),
    }


@dataclass(frozen=True)
class SparseField:
    """One field of the index, read-only; `scores` is safe to call from several threads."""

    vocab: dict[str, int]
    indptr: NDArray[np.int64]
    docs: NDArray[np.int32]
    weights: NDArray[np.float32]
    n_docs: int
    prune_share: float = (
        WORD_SHARE  # see PRUNE_FROM_CLAUSES; character bigrams are far more common than words
    )

    @classmethod
    def load(
        cls, prefix: str, arrays: Mapping[str, NDArray[Any]], n_docs: int, prune_share: float = WORD_SHARE
    ) -> SparseField:
        return cls(
            vocab=decode_vocab(arrays[f"{prefix}_vocab"]),
            indptr=arrays[f"{prefix}_indptr"],
            docs=arrays[f"{prefix}_docs"],
            weights=arrays[f"{prefix}_weights"],
            n_docs=n_docs,
            prune_share=prune_share,
        )

    @classmethod
    def from_token_lists(cls, documents: Sequence[Sequence[str]]) -> SparseField:
        """A field built in memory from token lists (tests, and small ad-hoc indexes)."""
        vocab: dict[str, int] = {}
        ids = np.array([vocab.setdefault(t, len(vocab)) for doc in documents for t in doc], dtype=np.int64)
        lengths = np.array([len(doc) for doc in documents], dtype=np.int64)
        return cls.load("f", build_field("f", list(vocab), ids, lengths), len(documents))

    def knows(self, term: str) -> bool:
        return term in self.vocab

    def doc_freq(self, term: str) -> int:
        t = self.vocab.get(term)
        return 0 if t is None else int(self.indptr[t + 1] - self.indptr[t])

    def scores(self, weighted_terms: Mapping[str, float]) -> NDArray[np.float32]:
        """BM25 score of every clause for a question whose terms carry weights (expansions count less)."""
        total = np.zeros(self.n_docs, dtype=np.float32)
        present = [(self.vocab[t], w) for t, w in weighted_terms.items() if t in self.vocab]
        if self.n_docs >= PRUNE_FROM_CLAUSES and len(present) > KEEP_RAREST:
            present.sort(key=lambda tw: int(self.indptr[tw[0] + 1] - self.indptr[tw[0]]))
            limit = self.prune_share * self.n_docs
            present = present[:KEEP_RAREST] + [
                (t, w) for t, w in present[KEEP_RAREST:] if self.indptr[t + 1] - self.indptr[t] <= limit
            ]
        for t, weight in present:
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            # A term's postings name each clause once, so `add.at` adds exactly what `total[docs] += …` would,
            # in half the time (no gather and scatter of temporaries); a weight of 1 needs no product.
            added = self.weights[lo:hi] if weight == 1.0 else np.float32(weight) * self.weights[lo:hi]
            np.add.at(total, self.docs[lo:hi], added)
        return total
