import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from knowledge.retrieval import FieldIndex, lucene_idf
from knowledge.tokenize import bigrams, normalize


def test_idf_is_positive_even_for_a_term_in_most_clauses() -> None:
    assert lucene_idf(10, 5) > 0
    assert lucene_idf(10, 9) > 0
    assert lucene_idf(10, 1) > lucene_idf(10, 5) > lucene_idf(10, 10)


def test_a_common_term_never_outscores_a_rare_one() -> None:
    """rank-bm25's Okapi floors negative idf at ε·mean, which can rank a ubiquitous word above a rare one."""
    docs = [["环境", "保护"]] * 6 + [["环境", "秸秆"]]
    index = FieldIndex.build(docs)
    common = index.scores({"环境": 1.0})
    rare = index.scores({"秸秆": 1.0})
    assert rare.max() > common.max() > 0


def test_clauses_without_any_query_term_score_zero() -> None:
    index = FieldIndex.build([["扬尘"], ["噪声"], ["扬尘", "噪声"]])
    scores = index.scores({"扬尘": 1.0})
    assert scores[1] == 0 and scores[0] > 0 and scores[2] > 0


def test_empty_corpus_and_empty_query() -> None:
    index = FieldIndex.build([])
    assert index.scores({"扬尘": 1.0}).sum() == 0
    assert FieldIndex.build([["a"]]).scores({}).sum() == 0


@given(
    st.lists(
        st.lists(st.sampled_from(list("甲乙丙丁戊己庚辛")), min_size=1, max_size=6), min_size=1, max_size=12
    ),
    st.lists(st.sampled_from(list("甲乙丙丁戊")), min_size=1, max_size=4, unique=True),
)
def test_sparse_scores_equal_rank_bm25_full_scan(docs: list[list[str]], query: list[str]) -> None:
    index = FieldIndex.build(docs)
    assert np.allclose(index.scores(dict.fromkeys(query, 1.0)), index.reference_scores(query))


@given(st.text(max_size=200))
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4E50), max_size=30))
def test_bigrams_cover_every_adjacent_pair(text: str) -> None:
    grams = bigrams(text)
    expected = max(len(text) - 1, 1) if text else 0
    assert len(grams) == expected
    assert all(math.isfinite(len(g)) and 1 <= len(g) <= 2 for g in grams)
