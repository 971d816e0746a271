"""Text analysis shared by the index and the query, so both are cut the same way.

Words come from jieba in search mode (long terms also yield their parts: 饮用水水源地 → 饮用水, 水源地, …)
with a private dictionary extended by the domain terms, department names and everyday words; a second
field of character bigrams catches what segmentation splits differently. The analyzer's word list is
stored in the database by the build and reloaded from there, so a query is always cut with the same
dictionary as the clauses it is matched against.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import jieba

from knowledge.departments import DepartmentLexicon

jieba.setLogLevel(logging.WARNING)

_T2S_LOCK = threading.Lock()
_t2s = None
_KEEP = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def _converter() -> object:
    global _t2s
    with _T2S_LOCK:
        if _t2s is None:
            import opencc

            _t2s = opencc.OpenCC("t2s")
    return _t2s


def normalize(text: str) -> str:
    """Simplified characters, half-width letters and digits, no control or zero-width characters."""
    text = _CONTROL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    converted: str = _converter().convert(text)  # type: ignore[attr-defined]
    return converted.lower()


def read_word_list(path: Path) -> list[tuple[str, int]]:
    """`term [freq]` lines; # starts a comment."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 2000
        words.append((parts[0], freq))
    return words


def read_terms(path: Path) -> list[str]:
    """Whitespace-separated terms; # starts a comment. Missing file → []."""
    if not path.is_file():
        return []
    return [
        t for line in path.read_text(encoding="utf-8").splitlines() for t in line.split("#", 1)[0].split()
    ]


def read_everyday(path: Path) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """`口语1 口语2 = 文件用语1 文件用语2` lines of the everyday-speech lexicon."""
    entries: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    if not path.is_file():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        left, right = line.split("=", 1)
        spoken, written = tuple(left.split()), tuple(right.split())
        if spoken and written:
            entries.append((spoken, written))
    return entries


# jieba's own dictionary has 349k words and takes ~1 s to load; its words at or above this frequency (36k)
# plus every word that occurs in the corpus load in ~0.1 s and cut questions the same way.
COMMON_WORD_FREQ = 100
IDIOMS = frozenset({"i", "l"})  # jieba's tags of idioms and set phrases
PRESENCE_SAMPLE = 200_000


def _jieba_dictionary() -> Iterable[tuple[str, int, str]]:
    path = Path(jieba.__file__).parent / "dict.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        word, freq, tag = [*line.split(" "), ""][:3]
        yield word, int(freq), tag


def _substrings(text: str, longest: int = 8) -> set[str]:
    return {text[i : i + n] for n in range(2, longest + 1) for i in range(len(text) - n + 1)}


class TextAnalyzer:
    """jieba with the project's dictionary, plus stopwords; thread-safe after `warm_up`."""

    def __init__(self, entries: Iterable[tuple[str, int]], stopwords: Iterable[str]) -> None:
        self.entries = sorted(set(entries))
        self.stopwords = frozenset(stopwords)
        self._jieba = jieba.Tokenizer()
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_lexicons(cls, lexicon_dir: Path, departments: DepartmentLexicon, corpus: str) -> TextAnalyzer:
        """The dictionary for one build: common words, words of the corpus, and the project's lexicons."""
        # Words of the corpus beyond jieba's common ones; the first PRESENCE_SAMPLE characters (the seed documents
        # come first) show the vocabulary without building a set of every substring of a national corpus.
        present = _substrings(normalize(corpus[:PRESENCE_SAMPLE]))
        everyday = read_everyday(lexicon_dir / "everyday.txt")
        # Idioms and set phrases (鬼哭狼嚎, 一箭双雕) that hold a one-character everyday word are kept whatever their
        # frequency: cut apart, the character would stand alone and be read as that word (狼 → a wild animal).
        singles = {phrase for spoken, _ in everyday for phrase in spoken if len(phrase) == 1}
        words: dict[str, int] = {
            w: f
            for w, f, tag in _jieba_dictionary()
            if f >= COMMON_WORD_FREQ or w in present or (tag in IDIOMS and not singles.isdisjoint(w))
        }
        terms_path = lexicon_dir / "domain_terms.txt"
        for word, freq in read_word_list(terms_path) if terms_path.is_file() else []:
            words[word] = max(freq, words.get(word, 0))
        for spoken, written in everyday:
            for word in (*spoken, *written):
                if len(word) > 1:
                    words.setdefault(word, 2000)
        # Matters the lists do not cover are cut whole, so their characters are not read as a topic (拐卖 → 卖).
        for word in read_terms(lexicon_dir / "out_of_scope.txt"):
            if len(word) > 1:
                words.setdefault(word, 2000)
        for name in departments.all_names():
            if len(name) > 1:
                words[name] = max(words.get(name, 0), 5000)
        stopwords = [w for w, _ in read_word_list(lexicon_dir / "stopwords.txt")]
        for word in stopwords:
            if len(word) > 1:
                words.setdefault(word, 3000)
        return cls(words.items(), stopwords)

    def export(self) -> str:
        return json.dumps({"words": self.entries, "stopwords": sorted(self.stopwords)}, ensure_ascii=False)

    @classmethod
    def from_export(cls, data: str) -> TextAnalyzer:
        parsed = json.loads(data)
        return cls(((w, int(f)) for w, f in parsed["words"]), parsed["stopwords"])

    def warm_up(self) -> None:
        """Load the dictionary now rather than on the first question (from memory: no file, no cache)."""
        with self._lock:
            if self._ready:
                return
            data = "\n".join(f"{w} {f}" for w, f in self.entries).encode("utf-8")
            tokenizer = self._jieba
            tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(io.BytesIO(data))
            tokenizer.initialized = True
            self._ready = True

    def tokens(self, text: str) -> list[str]:
        """Every search-mode token of normalized text, stopwords included (query parsing needs them)."""
        if not self._ready:
            self.warm_up()
        return [t for t in self._jieba.cut_for_search(normalize(text), HMM=False) if _KEEP.search(t)]

    def plain_tokens(self, text: str) -> list[str]:
        """Non-overlapping tokens (precise mode) of normalized text, for reading a question's topic."""
        if not self._ready:
            self.warm_up()
        return list(self._jieba.cut(normalize(text), HMM=False))

    def words(self, text: str) -> list[str]:
        """Index terms: multi-character search-mode tokens without stopwords (bigrams cover single characters)."""
        return [t for t in self.tokens(text) if len(t) > 1 and t not in self.stopwords]


# 「依照环境影响评价法律规定，办理建设项目审批」 names the law a duty follows, not what the duty is about: six
# departments of the 2015 list would otherwise answer every question about environmental impact assessment.
_LEGAL_BASIS = re.compile(
    r"(?:依照|依据|按照|根据)[^，。；：,;]{0,30}?(?:法律法规|法律|法规|条例)?(?:相关|有关)?(?:规定|法律法规)[，,]?"
)


def searchable(text: str) -> str:
    """A clause as it is indexed: its legal-basis phrases (「依照…规定，」) left out of the search fields."""
    return _LEGAL_BASIS.sub(" ", text)


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each Chinese run; a lone character stands for itself."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(normalize(text)):
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams
