"""Tokenizing every clause at build time, in parallel for large corpora.

jieba cuts about 5,000 clauses a second on one core, so a million-clause build spreads the work over worker
processes. Workers are spawned (not forked: `/reload` runs the build from a thread of the bot) and rebuild the
analyzer from its exported dictionary; each returns its chunk's tokens as small integer arrays with a local
vocabulary, which the parent merges.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from knowledge.tokenize import TextAnalyzer, bigrams, searchable

PARALLEL_FROM = 8_000
CHUNK = 5_000


@dataclass
class FieldTokens:
    """One field of a whole corpus: vocabulary, token ids clause after clause, tokens per clause."""

    vocab: list[str]
    ids: NDArray[np.int64]
    lengths: NDArray[np.int64]


@dataclass
class CorpusTokens:
    words: FieldTokens
    bigrams: FieldTokens
    joined_words: list[str]  # each clause's words, space-separated, for the clauses table


_worker_analyzer: TextAnalyzer | None = None


def _init_worker(export: str) -> None:
    global _worker_analyzer
    _worker_analyzer = TextAnalyzer.from_export(export)
    _worker_analyzer.warm_up()


def _encode(token_lists: list[list[str]]) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
    local: dict[str, int] = {}
    ids = [local.setdefault(t, len(local)) for tokens in token_lists for t in tokens]
    lengths = [len(tokens) for tokens in token_lists]
    return list(local), np.array(ids, dtype=np.int64), np.array(lengths, dtype=np.int64)


def _tokenize_chunk(
    texts: list[str], analyzer: TextAnalyzer | None = None
) -> tuple[
    tuple[list[str], NDArray[np.int64], NDArray[np.int64]],
    tuple[list[str], NDArray[np.int64], NDArray[np.int64]],
    list[str],
]:
    active = analyzer or _worker_analyzer
    assert active is not None, "worker not initialized"
    indexed = [searchable(t) for t in texts]
    words = [active.words(t) for t in indexed]
    grams = [bigrams(t) for t in indexed]
    return _encode(words), _encode(grams), [" ".join(w) for w in words]


def _merge(parts: list[tuple[list[str], NDArray[np.int64], NDArray[np.int64]]]) -> FieldTokens:
    vocab: dict[str, int] = {}
    ids, lengths = [], []
    for local_vocab, local_ids, local_lengths in parts:
        mapping = np.array([vocab.setdefault(t, len(vocab)) for t in local_vocab] or [0], dtype=np.int64)
        ids.append(mapping[local_ids] if len(local_ids) else local_ids)
        lengths.append(local_lengths)
    return FieldTokens(
        list(vocab),
        np.concatenate(ids) if ids else np.zeros(0, np.int64),
        np.concatenate(lengths) if lengths else np.zeros(0, np.int64),
    )


def tokenize_corpus(texts: Sequence[str], analyzer: TextAnalyzer, workers: int | None = None) -> CorpusTokens:
    """Words and bigrams of every clause; parallel above PARALLEL_FROM distinct texts.

    Responsibility lists reuse wording from their templates, so each distinct text is cut once.
    """
    distinct = list(dict.fromkeys(texts))
    position = {text: i for i, text in enumerate(distinct)}
    chunks = [distinct[i : i + CHUNK] for i in range(0, len(distinct), CHUNK)]
    workers = workers or min(os.cpu_count() or 1, 8)
    if len(distinct) < PARALLEL_FROM or workers < 2:
        analyzer.warm_up()
        results = [_tokenize_chunk(chunk, analyzer) for chunk in chunks]
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=_init_worker, initargs=(analyzer.export(),)) as pool:
            results = pool.map(_tokenize_chunk, chunks)
    words, grams = _merge([r[0] for r in results]), _merge([r[1] for r in results])
    joined = [j for r in results for j in r[2]]
    order = np.array([position[t] for t in texts], dtype=np.int64)
    return CorpusTokens(
        words=_expand(words, order),
        bigrams=_expand(grams, order),
        joined_words=[joined[i] for i in order.tolist()],
    )


def _expand(field: FieldTokens, order: NDArray[np.int64]) -> FieldTokens:
    """Tokens of the distinct texts laid out again for every clause, in clause order."""
    starts = np.concatenate([[0], np.cumsum(field.lengths)])
    lengths = field.lengths[order]
    if len(order) == 0:
        return FieldTokens(field.vocab, field.ids, lengths)
    index = np.repeat(starts[order] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
        lengths.sum()
    )
    return FieldTokens(field.vocab, field.ids[index], lengths)
