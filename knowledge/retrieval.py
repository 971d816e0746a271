"""The BM25 scoring definition, and rank-bm25 as its reference implementation.

The scorer is rank-bm25's BM25Okapi with one change, the inverse document frequency. Okapi's
idf = log((N − df + 0.5) / (df + 0.5)) is zero for a term in half the clauses and negative above that,
and rank-bm25 then replaces negative values by a floor (ε × mean idf), so on a few hundred clauses a
common word can score *above* a rarer one. We use the Lucene/ATIRE form log(1 + (N − df + 0.5)/(df + 0.5)),
which is positive and monotone in df.

`index.py` serves these scores from precomputed arrays; `LuceneBM25` computes them the way rank-bm25 does,
and the tests compare the two clause by clause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rank_bm25 import BM25Okapi

K1 = 1.2
B = 0.4  # clauses range from one line to a paragraph: a mild length normalization


def lucene_idf(n_docs: int, doc_freq: int) -> float:
    """log(1 + (N − df + 0.5) / (df + 0.5)): positive for every term present in the corpus."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


class LuceneBM25(BM25Okapi):  # type: ignore[misc]
    """rank-bm25's BM25Okapi with the always-positive idf: the reference the index is checked against."""

    def __init__(self, corpus: list[list[str]]) -> None:
        super().__init__(corpus, k1=K1, b=B)

    def _calc_idf(self, nd: Mapping[str, int]) -> None:
        self.idf = {word: lucene_idf(self.corpus_size, freq) for word, freq in nd.items()}
