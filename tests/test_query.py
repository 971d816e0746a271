"""Query parsing: prefix-indexed lookups find what a scan of every name finds; the lexicons speak the lists' words."""

import re
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from knowledge.manifest import KNOWLEDGE_DIR
from knowledge.query import (
    TITLE_MATCH_CHARS,
    TITLE_MATCH_SHARE,
    _by_prefix,
    _longest_common_substring,
    _occurring,
)
from knowledge.service import KnowledgeBase
from knowledge.tokenize import normalize, read_everyday

_CHARS = st.sampled_from("生态环境保护责任清单昌吉州市县局")


@given(st.lists(st.text(_CHARS, max_size=5), max_size=12), st.text(_CHARS, max_size=30))
def test_names_found_by_prefix_are_the_names_in_the_text(names: list[str], text: str) -> None:
    assert _occurring(_by_prefix(names), text) == {r for r, n in enumerate(names) if n and n in text}


@given(st.text(_CHARS, max_size=30), st.text(_CHARS, max_size=30))
def test_the_longest_common_run_from_piece_starts_is_the_full_search(a: str, b: str) -> None:
    full = _longest_common_substring(a, b)
    starts = [i for i in range(len(a) - TITLE_MATCH_CHARS + 1) if a[i : i + TITLE_MATCH_CHARS] in b]
    if len(full) >= TITLE_MATCH_CHARS:
        assert _longest_common_substring(a, b, starts) == full
    else:
        assert not starts


def _scanned_document(kb: KnowledgeBase, text: str) -> str:
    """The document a full comparison with every title picks (what `_find_document` did before its index)."""
    parser = kb._answerer.parser
    best_id, best = "", ""
    for doc_id, title in parser.titles.items():
        piece = _longest_common_substring(text, title)
        needed = max(TITLE_MATCH_CHARS, TITLE_MATCH_SHARE * len(title))
        if len(piece) >= needed and len(piece) > len(best):
            best_id, best = doc_id, piece
    return best_id


def test_regions_and_documents_are_found_as_a_full_scan_finds_them(kb: KnowledgeBase) -> None:
    parser = kb._answerer.parser
    titles = list(parser.titles.values())
    texts = [f"{t[2:14]}里谁管扬尘" for t in titles] + [f"{t}和{u}" for t in titles for u in titles]
    texts += [f"{alias}谁管秸秆" for alias, _ in parser._region_names] + ["没有地名的问题"]
    for text in texts:
        assert parser._find_document(text)[0] == _scanned_document(kb, text)
        scanned = next((r for alias, r in parser._region_names if alias and alias in text), None)
        assert parser._find_region(text)[0] == scanned


def test_every_written_term_of_the_everyday_lexicon_is_in_some_clause(real_db: Path) -> None:
    """An everyday word is mapped to the lists' own words: a right-hand term no clause holds finds nothing."""
    with sqlite3.connect(real_db) as db:
        corpus = "\n".join(re.sub(r"\s+", "", text) for (text,) in db.execute("select text from clauses"))
    unused = {
        term
        for _, written in read_everyday(KNOWLEDGE_DIR / "lexicon" / "everyday.txt")
        for term in written
        if normalize(term) not in corpus
    }
    assert not unused, sorted(unused)
