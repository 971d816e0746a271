"""Query understanding: what the question asks about, where, and of which department.

A question is normalized (simplified characters, half-width, no control characters), stripped of its
scaffolding (哪个部门负责 / 谁管 / 归谁管 … in stopwords.txt), and searched for a region
(regions.toml) and a department (departments.toml). Everyday words found in it bring in the documents'
own words (everyday.txt). What remains are the topic units the refusal decision is made on.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from knowledge.departments import DepartmentLexicon
from knowledge.models import Understanding
from knowledge.tokenize import TextAnalyzer, normalize

MAX_QUESTION_CHARS = 300
# How people reach an office (举报, 投诉, 打电话 …) says little about which office: weigh it lightly.
PROCEDURAL_WORDS = frozenset(
    {
        "举报",
        "投诉",
        "反映",
        "电话",
        "打电话",
        "热线",
        "报告",
        "咨询",
        "解决",
        "处理",
        "求助",
        "申请",
        "办理",
        "补办",
        "申报",
        "手续",
    }
)
PROCEDURAL_WEIGHT = 0.3
TITLE_MATCH_CHARS = 8
TITLE_MATCH_SHARE = 0.4
EXPANSION_WEIGHT = 0.6
# Every clause is about environmental protection: the words naming the whole field (环保, 生态环境 …) tell one
# duty from another no more than 工作 does, yet they are the words a question most often adds in passing.
FIELD_WEIGHT = 0.25
# Words that end an office's name, longest first so 委员会 is taken whole rather than as 委.
_OFFICE_WORDS = "委员会|办公室|部门|机关|支行|分局|机构|中心|公司|局|厅|委|办|院|所|站|部|队"
_OFFICE_PREFIX = re.compile(_OFFICE_WORDS)
_OFFICE_SUFFIX = re.compile(f"({_OFFICE_WORDS})$")
# 「公安局在机动车污染方面管什么」: a department, optionally a topic, then a question about its duties. Staff
# asking about their own office open with 我们/咱们 (「咱们乡政府在环保上要干啥」), which is not part of its name.
_TOPIC_CUE = "在|对|关于"
# The level an office sits at (「县环保局」「旗里的林草局」「我市住建局」) is not part of its name: every level of an
# office has the same duties in these lists. Not departments.stem's prefixes: those are the written names' (州,
# 本级, 同级), and 乡/镇 there would make 乡政府 any government.
_LEVEL_WORDS = r"(?:本|我|咱)?(?:自治区|自治州|州|市|县|旗|盟|区|乡|镇|苏木)(?:里的|上的|里|上|级)?"
_LEVEL = re.compile(_LEVEL_WORDS)
_LEVEL_BEFORE = re.compile(f"{_LEVEL_WORDS}$")
_SCOPED = re.compile(
    rf"^(?:我们|咱们|俺们|咱)?(?P<dept>.{{2,24}}?)(?:{_TOPIC_CUE})?(?P<topic>.*?)(?:方面|领域|这一块|这块|上)?(?:都|主要|具体|该|应该|应当|要)?"
    r"(?:管什么|管哪些|负责什么|负责哪些|有哪些职责|有什么职责|的职责是什么|职责是什么|的职责|职责|干什么|做什么|管啥|负责啥"
    r"|干啥|做啥|管些什么|管些啥|管到哪一步|管到哪|管哪一块|管哪块|负责哪一块|负责哪块|是干啥的|是干什么的|是做什么的"
    r"|查些什么|查些啥|查什么|查哪些|有哪些任务|有什么任务|任务是什么)"
    r"[？?。！!]*$"
)
_SEGMENT_END = re.compile(r"[，,；;：:]")
_SEGMENT_OPENING = re.compile(r"(?:^|[，,；;：:。！!？?\s])(?:我们|咱们|俺们|咱)?$")
# A department right after these is the partner, not the one asked about: 「谁协助环保部门…」.
_PARTNER_CUE = ("配合", "协助", "会同", "联合", "向", "给", "和", "与", "帮", "帮助", "支持")
# 「除了社会团体登记还负责什么」: the asker knows that duty already and wants the others.
_EXCEPT = re.compile(r"除了(?P<known>[^，,。？?！!]{1,40}?)(?:以外|之外)?[，,]?(?=还|另外|其他|其它)")
_WHOLE_FIELD = frozenset(
    {"环保", "环境", "生态", "环境保护", "生态环境", "生态环境保护", "生态环保", "环保工作"}
)
_PUNCT = re.compile(r"[\s\W_]+")
# Particles and counts that speech puts inside a set phrase; the everyday phrases are also matched without them.
_FILLERS = frozenset(
    {"了", "着", "过", "都", "也", "还", "又", "就", "再", "给"}
    | {"个", "些", "一些", "几个", "好几个", "好些", "一个", "一下", "一点"}
)
# A department named in a question that asks who (谁 / 哪个部门 …) is the one the asker already knows; 「哪些」
# alone asks which of its duties (「住建局负责哪些扬尘工作」).
_ASKING = re.compile(
    r"谁|(?:哪个|哪些|哪一个|什么|啥)(?:部门|单位|机关|机构|局)|哪家|哪里|哪儿|去哪|找哪|上哪|往哪|到哪|向哪|在哪|哪位|哪个门"
)
# A chat mention (「@所有人 」「@张科长 」) addresses people, it is not part of the question.
_MARKUP = re.compile(r"<[^<>]{0,200}>|[*_~`|\\]|@\S{1,32}\s")
# 「水利局和环保局都说不归自己」: two offices each deny a matter, and the asker wants to know which of them it is.
_DISPUTED = re.compile(r"都(?:说)?不(?:归|是|该|管|认|接)|互相推|相互推|推来推去|来回推|踢皮球|扯皮")
# 「…应当移交给哪个部门」 asks for the department a case is handed to, not for the one handing it over.
_RECIPIENT = re.compile(
    r"(?:转交|移交|移送|转送|转给|转到|转至|交给|交由|送交)(?:给|至|到)?(?=哪|谁|什么|啥)"
)


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    aliases: tuple[str, ...]
    within: str = ""


def load_regions(path: Path) -> list[Region]:
    if not path.is_file():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Region(r["name"], tuple(r.get("aliases", ())), r.get("within", "")) for r in data.get("region", [])
    ]


@dataclass(frozen=True, slots=True)
class Expansion:
    spoken: str
    written: tuple[str, ...]


class QueryParser:
    """Turns a question into an `Understanding`; pure, and safe across threads once built."""

    def __init__(
        self,
        analyzer: TextAnalyzer,
        departments: DepartmentLexicon,
        regions: list[Region],
        everyday: list[tuple[tuple[str, ...], tuple[str, ...]]],
        known: Callable[[str], bool],
        titles: dict[str, str] | None = None,
        out_of_scope: list[str] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.departments = departments
        self.regions = regions
        self.known = known
        self.titles = {doc_id: normalize(title) for doc_id, title in (titles or {}).items()}
        # Every TITLE_MATCH_CHARS-long piece of every title → the documents whose title holds it.
        self._title_pieces: dict[str, list[str]] = {}
        for doc_id, title in self.titles.items():
            for i in range(len(title) - TITLE_MATCH_CHARS + 1):
                docs = self._title_pieces.setdefault(title[i : i + TITLE_MATCH_CHARS], [])
                if not docs or docs[-1] != doc_id:
                    docs.append(doc_id)
        # Longest first, then by text: a set's order changes from process to process, the JSON must not.
        self.out_of_scope = sorted(
            {normalize(t) for t in out_of_scope or () if len(t) >= 2}, key=lambda t: (-len(t), t)
        )
        table: dict[str, list[str]] = {}
        for spoken, written in everyday:
            for phrase in spoken:
                table.setdefault(normalize(phrase), []).extend(written)
        self.everyday = sorted(table.items(), key=lambda kv: -len(kv[0]))
        self._written_words: dict[str, tuple[str, ...]] = {}
        # Phrases by their first two characters, with their rank in `everyday`, so a question is scanned once
        # instead of once per phrase.
        self._phrases_at = _by_prefix(phrase for phrase, _ in self.everyday)
        self._dept_names = sorted(
            (
                (normalize(name), e.department.key)
                for e in departments.entries.values()
                # A collective subject is asked about only by the names people give it (党委政府, 县委县政府).
                for name in (
                    e.aliases if e.department.generic else (*e.written, *e.aliases, e.department.canonical)
                )
                if len(name) >= 2
            ),
            key=lambda p: -len(p[0]),
        )
        self._region_names = sorted(
            ((normalize(a), r) for r in regions for a in (r.name, *r.aliases)), key=lambda p: -len(p[0])
        )
        # Both lists by their names' first two characters (a one-character alias by that character), with their
        # rank in the list: a question is scanned once instead of once per name — at national scale there are
        # thousands of place names. Only names that end in an office word can be a department asked about.
        self._regions_at = _by_prefix(alias for alias, _ in self._region_names)
        self._names_at = _by_prefix(name for name, _ in self._dept_names)
        self._offices_at = _by_prefix(
            name if _OFFICE_SUFFIX.search(name) or departments.get(key).generic else ""
            for name, key in self._dept_names
        )

    def region_family(self, name: str) -> set[str]:
        """A region and every region within it."""
        family = {name}
        changed = True
        while changed:
            changed = False
            for region in self.regions:
                if region.within in family and region.name not in family:
                    family.add(region.name)
                    changed = True
        return family

    def _find_region(self, text: str) -> tuple[Region | None, str]:
        """The longest region name in the text (the first listed among equals), and the text without it."""
        found = _occurring(self._regions_at, text)
        if not found:
            return None, text
        alias, region = self._region_names[min(found)]
        # 「全国碳市场建设谁负责」 asks about a term of the lists (全国碳市场, 全国低碳日), not about national lists.
        if any(alias in token and alias != token for token in self.analyzer.plain_tokens(text)):
            return None, text
        return region, text.replace(alias, " ")

    def region_named(self, text: str) -> str:
        region, _ = self._find_region(normalize(text))
        return region.name if region else ""

    def _find_document(self, text: str) -> tuple[str, str]:
        """A document named by a long piece of its title (「构建现代环境治理体系」), and the text without it."""
        best_id, best = "", ""
        # Where in the text each candidate title's pieces start, candidates in the order they are first met.
        starts: dict[str, list[int]] = {}
        for i in range(len(text) - TITLE_MATCH_CHARS + 1):
            for doc_id in self._title_pieces.get(text[i : i + TITLE_MATCH_CHARS], ()):
                starts.setdefault(doc_id, []).append(i)
        for doc_id, at in starts.items():
            title = self.titles[doc_id]
            # Long enough to name this document, not just to share its generic words (生态环境保护…).
            needed = max(TITLE_MATCH_CHARS, TITLE_MATCH_SHARE * len(title))
            # A shared run of n characters starts n - TITLE_MATCH_CHARS + 1 consecutive pieces, which bounds the
            # run from above: at national scale thousands of titles share a generic phrase, and only the first
            # of them needs comparing in full.
            if _longest_streak(at) + TITLE_MATCH_CHARS - 1 < max(needed, len(best) + 1):
                continue
            piece = _longest_common_substring(text, title, at)
            if len(piece) >= needed and len(piece) > len(best):
                best_id, best = doc_id, piece
        return (best_id, text.replace(best, " ")) if best_id else ("", text)

    def _disputed_departments(self, text: str) -> tuple[str, tuple[str, ...], str]:
        """(names as typed, their keys, text without them) when the question names two or more offices that each
        deny the matter, else ("", (), text): the answer is one of them, not someone else."""
        if not _DISPUTED.search(text):
            return "", (), text
        names: list[str] = []
        keys: list[str] = []
        rest = text
        # Any name counts here, not only an office's (乡政府 and 环保局 can push a matter on to each other).
        for rank in sorted(_occurring(self._names_at, text)):
            name, key = self._dept_names[rank]
            if name not in rest or key in keys:
                continue  # a shorter name inside one already taken, or another name of the same office
            names.append(name)
            keys.extend(self._keys(name, key))
            rest = rest.replace(name, " ")
        if len(names) < 2:
            return "", (), text
        return "、".join(names), tuple(dict.fromkeys(keys)), rest

    def _keys(self, name: str, key: str) -> tuple[str, ...]:
        """The departments a name found in a question stands for, with its reform relatives (else just its own)."""
        return tuple(d.key for d in self.departments.resolve(name) or [self.departments.get(key)])

    def _find_department(self, text: str) -> tuple[str, tuple[str, ...], str, bool]:
        """(name as typed, its departments, text without it, whether it is the one asked about) for an explicit
        department in the question, else ("", (), text, False).

        「公安局在机动车污染方面管什么」 asks about 公安局; 「对环保局罚款不服找谁」 asks who else."""
        # 「环境执法和司法怎么衔接，法院有什么职责」: the office asked about may open the last segment, and what
        # comes before it is then the topic.
        last = _SEGMENT_END.split(text)[-1]
        for lead, scope in dict.fromkeys(((text[: len(text) - len(last)], last), ("", text))):
            found = self._scoped(scope)
            if found:
                name, keys, topic = found
                return name, keys, lead + topic, True
        # 「环保部门申请法院强制执行，法院接不接」: an office opening a segment is what the segment is about, the
        # last such first; the others keep the lexicon's order.
        named = [
            (self._opening_segment(text, name), name, key)
            for name, key in (self._dept_names[rank] for rank in sorted(_occurring(self._offices_at, text)))
        ]
        named.sort(key=lambda n: n[0], reverse=True)  # stable: equals keep the lexicon's order
        for segment, name, key in named:
            start = segment if segment >= 0 else text.find(name)
            before = text[max(0, start - 2) : start]
            if any(before.endswith(cue) for cue in _PARTNER_CUE):
                continue
            level = _LEVEL_BEFORE.search(text[:start])
            opening = level.start() if level else start
            rest = text[:opening] + " " + text[start + len(name) :]
            return name, self._keys(name, key), rest, not _ASKING.search(text)
        return "", (), text, False

    @staticmethod
    def _opening_segment(text: str, name: str) -> int:
        """Where the name opens a segment of the text (after its level or 我们), the last such place, or -1."""
        for start in sorted((m.start() for m in re.finditer(re.escape(name), text)), reverse=True):
            level = _LEVEL_BEFORE.search(text[:start])
            if _SEGMENT_OPENING.search(text[: level.start() if level else start]):
                return start
        return -1

    def _scoped(self, text: str) -> tuple[str, tuple[str, ...], str] | None:
        """(name as typed, its departments, topic) when the text asks what a known department does, else None."""
        scoped = _SCOPED.match(text)
        if not scoped:
            return None
        name, topic = scoped.group("dept").strip(), scoped.group("topic")
        # The shortest cut can split a name (县政|府在环保上, 乡镇|政府): the longest known name the question
        # opens with is taken; failing that, an office word right after the cut belongs to it (民政|局).
        head = scoped.group("dept") + scoped.group("topic")
        known, skip = self._name_opening(head), 0
        level = _LEVEL.match(head)
        if not known and level:
            known, skip = self._name_opening(head[level.end() :]), level.end()
        suffix = _OFFICE_PREFIX.match(topic)
        if len(known) + skip > len(name) + (len(suffix.group()) if suffix else 0):
            name, topic = known, re.sub(f"^(?:{_TOPIC_CUE})", "", head[skip + len(known) :])
        elif suffix:
            name, topic = name + suffix.group(), topic[suffix.end() :]
        resolved = self.departments.resolve(name)
        return (name, tuple(d.key for d in resolved), topic) if resolved else None

    def _name_opening(self, text: str) -> str:
        """The longest known department name the text opens with, or ""."""
        return max(
            (n for _, n in self._names_at.get(text[:2], ()) if text.startswith(n)), key=len, default=""
        )

    def _expansions(self, text: str, tokens: list[str]) -> tuple[list[Expansion], str]:
        """Everyday phrases in the text, longest first, and the text with their spans blanked; a phrase whose span
        is already taken is skipped.

        A one-character phrase (卖, 逮, 寄) counts only where the question's words leave it standing alone:
        inside a word (拐卖, 逮捕, 邮寄) it means something else."""
        found: list[Expansion] = []
        taken = [False] * len(text)
        starts = list(itertools.accumulate((len(t) for t in tokens), initial=0))
        alone = {start for start, token in zip(starts, tokens, strict=False) if len(token) == 1}
        for rank in sorted(_occurring(self._phrases_at, text)):
            phrase, written = self.everyday[rank]
            start = text.find(phrase)
            while start >= 0:
                end = start + len(phrase)
                if len(phrase) == 1 and start not in alone:
                    start = text.find(phrase, end)
                    continue
                if not all(taken[start:end]):
                    found.append(Expansion(phrase, tuple(dict.fromkeys(written))))
                    for i in range(start, end):
                        taken[i] = True
                    break
                start = text.find(phrase, end)
        # Speech puts particles and counts inside set phrases (留下好几个大坑, 烧了秸秆, 坑都没人填): the phrases
        # are also looked for in the question without them, each over the span of the question it covers. Such a
        # find is weaker: it may not share a character with a phrase found as typed.
        compact = ""
        origin: list[int] = []  # where in the text each character of `compact` stands
        for start, token in zip(starts, tokens, strict=False):
            if token not in _FILLERS:
                compact += token
                origin.extend(range(start, start + len(token)))
        if len(compact) == len(text) or starts[-1] != len(text):
            return found, _blanked(text, taken)
        for rank in sorted(_occurring(self._phrases_at, compact)):
            phrase, written = self.everyday[rank]
            if len(phrase) < 3 or phrase in text:
                continue
            at = compact.find(phrase)
            start, end = origin[at], origin[at + len(phrase) - 1] + 1
            if not any(taken[start:end]):
                found.append(Expansion(phrase, tuple(dict.fromkeys(written))))
                for i in range(start, end):
                    taken[i] = True
        return found, _blanked(text, taken)

    def units(self, text: str, tokens: list[str] | None = None) -> list[str]:
        """Topic units: non-stopword words, with runs of single characters merged (低 保 → 低保)."""
        units: list[str] = []
        run = ""
        for token in self.analyzer.plain_tokens(text) if tokens is None else tokens:
            if token in self.analyzer.stopwords or not _PUNCT.sub("", token):
                if run:
                    units.append(run)
                run = ""
                continue
            if len(token) == 1:
                run += token
                continue
            if run:
                units.append(run)
                run = ""
            units.append(token)
        if run:
            units.append(run)
        return [u for u in units if not (len(u) == 1 and u in self.analyzer.stopwords)]

    def parse(self, question: str) -> Understanding:
        truncated = len(question) > MAX_QUESTION_CHARS
        # Markup pasted from elsewhere (<b>…</b>, MarkdownV2 symbols) is not part of the question.
        text = normalize(_MARKUP.sub(" ", question[:MAX_QUESTION_CHARS])).strip()
        region, text = self._find_region(text)
        document, text = self._find_document(text)
        handed = _RECIPIENT.search(text)
        if handed:
            text = text[: handed.start()] + " " + text[handed.end() :]
        excluded: tuple[str, ...] = ()
        excluded_keys: tuple[str, ...] = ()
        known = _EXCEPT.search(text)
        if known:
            name = known.group("known").strip()
            others = self.departments.resolve(name) if _OFFICE_SUFFIX.search(name) else []
            if others:
                excluded_keys = tuple(d.key for d in others)
            else:
                excluded = tuple(self.units(name))
            text = text[: known.start()] + " " + text[known.end() :]
        dept_name, dept_keys, rest = self._disputed_departments(text.strip())
        if dept_keys:
            text = rest
        else:
            dept_name, dept_keys, text, asked_about = self._find_department(text.strip())
            if dept_keys and not asked_about:
                excluded_keys += dept_keys
                dept_name, dept_keys = "", ()
        tokens = self.analyzer.plain_tokens(text)
        # Words the everyday lexicon explained (信号塔) are not searched again for out-of-scope matters (手机信号).
        expansions, unexplained = self._expansions(text, tokens)
        out_of_scope = tuple(t for t in self.out_of_scope if t in unexplained)
        units = self.units(text, tokens)
        if dept_keys and all(u in _WHOLE_FIELD for u in units):
            units = []  # 「公安局在环保方面管什么」 asks for the whole duty list
        lexicon_words = {e.spoken for e in expansions}
        missing = tuple(
            u for u in units if not self.known(u) and not any(u in w or w in u for w in lexicon_words)
        )
        # Units are cut one by one: jieba cuts a space-separated text block by block, so these are the words of
        # the whole topic, and ranking reuses them per unit.
        unit_words = tuple(tuple(self.analyzer.words(u)) for u in units)
        weights: dict[str, float] = {}
        for words in unit_words:
            for word in words:
                weights[word] = PROCEDURAL_WEIGHT if word in PROCEDURAL_WORDS else 1.0
        expansion_words: list[tuple[str, ...]] = []
        for expansion in expansions:
            words_of_expansion: list[str] = []
            for written in expansion.written:
                # An abbreviation (环评 → 环境影响评价, 危废 → 危险废物) means exactly what it stands for.
                weight = 1.0 if _abbreviates(expansion.spoken, written) else EXPANSION_WEIGHT
                for word in self._lexicon_words(written):
                    weights.setdefault(word, weight)
                    words_of_expansion.append(word)
            expansion_words.append(tuple(words_of_expansion))
        for word in _WHOLE_FIELD.intersection(weights):
            weights[word] *= FIELD_WEIGHT
        return Understanding(
            original=question,
            normalized=text,
            region=region.name if region else "",
            regions=tuple(sorted(self.region_family(region.name))) if region else (),
            department=dept_name,
            department_keys=dept_keys,
            units=tuple(units),
            terms=tuple(weights.items()),
            expansions=tuple((e.spoken, e.written) for e in expansions),
            missing=missing,
            truncated=truncated,
            document=document,
            out_of_scope=out_of_scope,
            excluded=excluded,
            excluded_departments=excluded_keys,
            unit_words=unit_words,
            expansion_words=tuple(expansion_words),
            recipient=bool(handed),
        )

    def _lexicon_words(self, written: str) -> tuple[str, ...]:
        """The index words of an everyday entry's written term, cut once per process: the terms are the lexicon's,
        so the memo is bounded by it (a race between threads only cuts a term twice)."""
        words = self._written_words.get(written)
        if words is None:
            words = self._written_words[written] = tuple(self.analyzer.words(written))
        return words


def _blanked(text: str, taken: list[bool]) -> str:
    """The text with the taken characters replaced by spaces."""
    return "".join(" " if t else ch for ch, t in zip(text, taken, strict=True))


def _abbreviates(short: str, full: str) -> bool:
    """Whether `short` is `full` shortened by leaving characters out from within (环评 → 环境影响评价), keeping its
    first character and their order, to at most half its length.

    A word that only leaves a tail off (错峰 → 错峰生产) or drops one character of a long term (国有企业 →
    国有企事业单位) names something narrower or broader, not the same thing; at 100k clauses the latter sent a
    question about state-owned enterprises to hundreds of audit clauses."""
    if len(short) < 2 or 2 * len(short) > len(full) or short[0] != full[0] or short in full:
        return False
    rest = iter(full)
    return all(ch in rest for ch in short)


def _by_prefix(names: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
    """(rank, name) of each non-empty name by its first two characters."""
    table: dict[str, list[tuple[int, str]]] = {}
    for rank, name in enumerate(names):
        if name:
            table.setdefault(name[:2], []).append((rank, name))
    return table


def _occurring(table: dict[str, list[tuple[int, str]]], text: str) -> set[int]:
    """Ranks of the names of a `_by_prefix` table that occur in the text."""
    found: set[int] = set()
    for i in range(len(text)):
        for key in {text[i : i + 2], text[i]}:
            for rank, name in table.get(key, ()):
                if text.startswith(name, i):
                    found.add(rank)
    return found


def _longest_streak(ascending: list[int]) -> int:
    """Length of the longest run of consecutive integers in an ascending list."""
    longest = streak = 0
    previous = -2
    for n in ascending:
        streak = streak + 1 if n == previous + 1 else 1
        longest = max(longest, streak)
        previous = n
    return longest


def _longest_common_substring(a: str, b: str, starts: Iterable[int] | None = None) -> str:
    """Longest run shared by two short strings (questions and titles are a few dozen characters), the first of
    equals; only runs beginning at `starts` of `a` when given."""
    best = ""
    for i in range(len(a)) if starts is None else starts:
        for j in range(i + len(best) + 1, len(a) + 1):
            if a[i:j] in b:
                best = a[i:j]
            else:
                break
    return best
