import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from knowledge.index import SparseField
from knowledge.retrieval import LuceneBM25, lucene_idf
from knowledge.storage import Groups
from knowledge.tokenize import bigrams, normalize


def test_idf_is_positive_even_for_a_term_in_most_clauses() -> None:
    assert lucene_idf(10, 5) > 0
    assert lucene_idf(10, 9) > 0
    assert lucene_idf(10, 1) > lucene_idf(10, 5) > lucene_idf(10, 10)


def test_a_common_term_never_outscores_a_rare_one() -> None:
    """rank-bm25's Okapi floors negative idf at ε·mean, which can rank a ubiquitous word above a rare one."""
    field = SparseField.from_token_lists([["环境", "保护"]] * 6 + [["环境", "秸秆"]])
    assert field.scores({"秸秆": 1.0}).max() > field.scores({"环境": 1.0}).max() > 0


def test_clauses_without_any_query_term_score_zero() -> None:
    scores = SparseField.from_token_lists([["扬尘"], ["噪声"], ["扬尘", "噪声"]]).scores({"扬尘": 1.0})
    assert scores[1] == 0 and scores[0] > 0 and scores[2] > 0


def test_empty_corpus_and_empty_query() -> None:
    assert SparseField.from_token_lists([]).scores({"扬尘": 1.0}).sum() == 0
    assert SparseField.from_token_lists([["a"]]).scores({}).sum() == 0


def test_weights_scale_scores() -> None:
    field = SparseField.from_token_lists([["扬尘", "噪声"], ["噪声"]])
    assert np.allclose(field.scores({"扬尘": 0.5}), 0.5 * field.scores({"扬尘": 1.0}))


@given(
    st.lists(
        st.lists(st.sampled_from(list("甲乙丙丁戊己庚辛")), min_size=1, max_size=6), min_size=1, max_size=12
    ),
    st.lists(st.sampled_from(list("甲乙丙丁戊")), min_size=1, max_size=4, unique=True),
)
def test_index_scores_equal_rank_bm25(docs: list[list[str]], query: list[str]) -> None:
    """The precomputed index reproduces rank-bm25's scores (with the Lucene idf) for every clause."""
    ours = SparseField.from_token_lists(docs).scores(dict.fromkeys(query, 1.0))
    reference = LuceneBM25([list(d) for d in docs]).get_scores(query)
    assert np.allclose(ours, reference, rtol=1e-5, atol=1e-5)


@given(st.text(max_size=200))
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4E50), max_size=30))
def test_bigrams_cover_every_adjacent_pair(text: str) -> None:
    grams = bigrams(text)
    expected = max(len(text) - 1, 1) if text else 0
    assert len(grams) == expected
    assert all(math.isfinite(len(g)) and 1 <= len(g) <= 2 for g in grams)


@given(st.lists(st.integers(0, 5), max_size=40), st.sets(st.integers(0, 5)))
def test_groups_find_the_positions_of_values_as_a_pass_over_the_array_would(
    values: list[int], wanted: set[int]
) -> None:
    """`Groups` (clauses by name or department, built at load) must find what a mask over every clause finds."""
    array = np.array(values, dtype=np.int32)
    query = np.array(sorted(wanted), dtype=np.intp)
    positions, counts = Groups.of(array, 6).members(query)
    assert positions.tolist() == [p for v in query for p in np.flatnonzero(array == v)]
    assert counts.tolist() == [int((array == v).sum()) for v in query]
