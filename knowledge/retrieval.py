"""BM25 over clauses, two fields: jieba words and character bigrams, fused.

The scorer is rank-bm25's BM25Okapi with one change, the inverse document frequency. Okapi's
idf = log((N − df + 0.5) / (df + 0.5)) is zero for a term in half the clauses and negative above that,
and rank-bm25 then replaces negative values by a floor (ε × mean idf), so on a few hundred clauses a
common word can score *above* a rarer one. We use the Lucene/ATIRE form log(1 + (N − df + 0.5)/(df + 0.5)),
which is positive and monotone in df. Scores of zero mean "no query term in the clause"; callers never
see such clauses (unlike rank-bm25's get_top_n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rank_bm25 import BM25Okapi

K1 = 1.2
B = 0.4


def lucene_idf(n_docs: int, doc_freq: int) -> float:
    """log(1 + (N − df + 0.5) / (df + 0.5)): positive for every term present in the corpus."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


class LuceneBM25(BM25Okapi):  # type: ignore[misc]
    """BM25Okapi with the always-positive idf, and weighted queries scored in one pass per term."""

    def _calc_idf(self, nd: Mapping[str, int]) -> None:
        self.idf = {word: lucene_idf(self.corpus_size, freq) for word, freq in nd.items()}

    def postings(self) -> dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]]:
        """term → (clause indices, term frequencies): lets a query touch only the clauses that hold its terms."""
        table: dict[str, tuple[list[int], list[float]]] = {}
        for index, freqs in enumerate(self.doc_freqs):
            for term, tf in freqs.items():
                entry = table.setdefault(term, ([], []))
                entry[0].append(index)
                entry[1].append(float(tf))
        return {
            t: (np.array(i, dtype=np.int64), np.array(f, dtype=np.float64)) for t, (i, f) in table.items()
        }


@dataclass(frozen=True, slots=True)
class FieldIndex:
    """One BM25 field over all clauses, with postings for sparse scoring."""

    bm25: LuceneBM25
    postings: dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]]
    norm: NDArray[np.float64]  # k1 · (1 − b + b · |d| / avgdl) per clause

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]]) -> FieldIndex:
        # rank-bm25 divides by the number of clauses; an empty corpus still needs one (empty) clause.
        docs = [list(d) for d in documents] or [[]]
        bm25 = LuceneBM25(docs, k1=K1, b=B)
        lengths = np.array(bm25.doc_len, dtype=np.float64)
        avgdl = bm25.avgdl or 1.0
        norm = K1 * (1.0 - B + B * lengths / avgdl)
        return cls(bm25, bm25.postings(), norm)

    def knows(self, term: str) -> bool:
        return term in self.postings

    def scores(self, weighted_terms: Mapping[str, float]) -> NDArray[np.float64]:
        """BM25 score of every clause for a query whose terms carry weights (expansions count less)."""
        total = np.zeros(len(self.norm), dtype=np.float64)
        for term, weight in weighted_terms.items():
            posting = self.postings.get(term)
            if posting is None:
                continue
            indices, tf = posting
            idf = self.bm25.idf[term]
            total[indices] += weight * idf * tf * (K1 + 1.0) / (tf + self.norm[indices])
        return total

    def reference_scores(self, terms: Sequence[str]) -> NDArray[np.float64]:
        """rank-bm25's own full scan, for the differential test."""
        result: NDArray[np.float64] = np.asarray(self.bm25.get_scores(list(terms)), dtype=np.float64)
        return result
