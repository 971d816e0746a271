"""The department lexicon: names as written, everyday aliases and the 2018 reform, loaded from departments.toml."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from knowledge.models import Department

LEXICON_PATH = Path(__file__).parent / "lexicon" / "departments.toml"

# Prefixes that locate a body in a place ("州公安局", "自治区生态环境厅") but do not change which body it is.
_PLACE_PREFIX = re.compile(r"^(自治区|自治州|州|市|县|旗|盟|区|省|本级|同级|县市|地方)")
# Suffixes that name the kind of office; "公安局" and "公安部门" are the same body.
_OFFICE_SUFFIX = re.compile(
    r"(行政管理部门|监督管理部门|行政部门|部门|机关|委员会|局|厅|委|办公室|办|所|站)$"
)


@dataclass(frozen=True, slots=True)
class DepartmentEntry:
    department: Department
    written: tuple[str, ...]
    aliases: tuple[str, ...]
    functions: tuple[str, ...] = ()


_PLACE_END = "市县州旗盟区"


def _without_place(name: str) -> list[str]:
    """The name with each possible place prefix removed (a place ends in 市/县/州/旗/盟/区), shortest first."""
    return [name[i + 1 :] for i, ch in enumerate(name[:10]) if ch in _PLACE_END and len(name) - i - 1 >= 2]


def stem(name: str) -> str:
    """A department name without place prefix and office suffix: 州公安局 → 公安, 环境保护部门 → 环境保护."""
    name = _PLACE_PREFIX.sub("", name)
    shorter = _OFFICE_SUFFIX.sub("", name)
    return shorter if len(shorter) >= 2 else name


class DepartmentLexicon:
    """Resolves department names both ways: text → department, user's name → departments."""

    def __init__(self, entries: Iterable[DepartmentEntry]) -> None:
        self.entries = {e.department.key: e for e in entries}

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> DepartmentLexicon:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = []
        for item in data["department"]:
            dept = Department(
                key=item["key"],
                canonical=item["canonical"],
                successor=item.get("successor", ""),
                note=item.get("note", ""),
                generic=bool(item.get("generic", False)),
            )
            entries.append(
                DepartmentEntry(
                    dept,
                    tuple(item.get("written", ())),
                    tuple(item.get("aliases", ())),
                    tuple(item.get("functions", ())),
                )
            )
        lexicon = cls(entries)
        for entry in entries:
            if entry.department.successor and entry.department.successor not in lexicon.entries:
                raise ValueError(
                    f"{path}: {entry.department.key} names unknown successor {entry.department.successor}"
                )
        return lexicon

    def get(self, key: str) -> Department:
        return self.entries[key].department

    @cached_property
    def _written(self) -> list[tuple[str, str]]:
        """(name, key) for every written name, longest first so 自治区生态环境厅 wins over 生态环境部."""
        pairs = [(name, e.department.key) for e in self.entries.values() for name in e.written]
        return sorted(pairs, key=lambda p: -len(p[0]))

    @cached_property
    def _by_exact_name(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for e in self.entries.values():
            for name in (*e.written, *e.aliases, e.department.canonical):
                table.setdefault(name, e.department.key)
        return table

    @cached_property
    def _by_stem(self) -> dict[str, set[str]]:
        table: dict[str, set[str]] = {}
        for e in self.entries.values():
            if e.department.generic:
                continue
            for name in (*e.written, *e.aliases, e.department.canonical):
                table.setdefault(stem(name), set()).add(e.department.key)
        return table

    def key_for_block(self, name: str) -> str | None:
        """The department a block header names, or None when the lexicon does not know it.

        A place before the name (昌吉州公安局, 某某县住建局) is stripped when what follows is a known department.
        """
        for candidate in (name, *_without_place(name)):
            if candidate in self._by_exact_name:
                return self._by_exact_name[candidate]
            keys = self._by_stem.get(stem(candidate), set())
            if len(keys) == 1:
                return next(iter(keys))
        return None

    def implied_by_function(self, text: str) -> tuple[str, str] | None:
        """(name, key) of the one body whose exclusive activity the text is about (检察公益诉讼 → 检察机关)."""
        keys = {e.department.key for e in self.entries.values() for f in e.functions if f in text}
        if len(keys) != 1:
            return None
        entry = self.entries[keys.pop()]
        return (entry.written[0] if entry.written else entry.department.canonical), entry.department.key

    @cached_property
    def _written_pattern(self) -> re.Pattern[str]:
        """All written names in one alternation, longest first, so each position takes its longest name."""
        names = [re.escape(name) for name, _ in self._written]
        return re.compile("|".join(names)) if names else re.compile(r"(?!)")

    @cached_property
    def _key_by_written(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for name, key in self._written:
            table.setdefault(name, key)
        return table

    def mentions(self, text: str) -> list[tuple[int, str, str]]:
        """Non-overlapping (position, name, key) of written department names in text, left to right."""
        found = [
            (m.start(), m.group(), self._key_by_written[m.group()])
            for m in self._written_pattern.finditer(text)
        ]
        taken = [False] * len(text)
        for position, name, _ in found:
            for i in range(position, position + len(name)):
                taken[i] = True
        for match in re.finditer(r"((?:[\u4e00-\u9fff]{2,8}、)+[\u4e00-\u9fff]{2,8})等(?:有关)?部门", text):
            # "会同环境保护、农牧业等部门": each listed stem names a department.
            pos = match.start(1)
            for part in match.group(1).split("、"):
                keys = self._by_stem.get(part, set())
                if len(keys) == 1 and not any(taken[pos : pos + len(part)]):
                    found.append((pos, part, next(iter(keys))))
                pos += len(part) + 1
        return sorted(found)

    def resolve(self, name: str) -> list[Department]:
        """Departments a user's name refers to, with reform predecessors and successors.

        `国土局` → 国土资源部门 and its successor 自然资源部门; `市场监管局` → 市场监督管理部门 and the three
        bodies merged into it. Empty when the name is unknown (see `suggest`).
        """
        name = name.strip()
        keys: list[str] = []
        if name in self._by_exact_name:
            key = self._by_exact_name[name]
            # A collective subject (党委和政府) is meant only by a name people give it, never by a stem.
            if self.get(key).generic and name in self.entries[key].aliases:
                return self.meant_by(key)
            keys.append(key)
        else:
            keys.extend(sorted(self._by_stem.get(stem(name), set())))
        if not keys:
            contained = [n for n in self._by_exact_name if len(n) >= 2 and n in name]
            if contained:
                longest = max(contained, key=len)
                keys.append(self._by_exact_name[longest])
        return self.with_reform_relatives([k for k in keys if not self.get(k).generic])

    def meant_by(self, key: str) -> list[Department]:
        """The departments a key stands for: itself and its reform relatives, and for a collective subject each office
        its everyday names name (党委政府, 县委县政府: 党委 and 政府) — the same whichever name was typed, so that a
        duty list paged by key is the list the name gave."""
        if not self.get(key).generic:
            return self.with_reform_relatives([key])
        names = self.entries[key].aliases
        within = [
            k
            for n, k in self._by_exact_name.items()
            if len(n) >= 2 and not self.get(k).generic and any(n in name for name in names)
        ]
        return self.with_reform_relatives(list(dict.fromkeys([key, *within])))

    def with_reform_relatives(self, keys: list[str]) -> list[Department]:
        """The departments and, through the 2018 reform, their successors and predecessors, in that order."""
        related: list[str] = []
        for key in keys:
            dept = self.get(key)
            if dept.successor:
                related.append(dept.successor)
            related.extend(e.department.key for e in self.entries.values() if e.department.successor == key)
        return [self.get(k) for k in dict.fromkeys([*keys, *related])]

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Closest known names for an unknown one, so `duties 环宝局` offers 环保局 rather than nothing."""
        names = list(self._by_exact_name)
        close = difflib.get_close_matches(name, names, n=limit, cutoff=0.4)
        if len(close) < limit:
            chars = set(name)
            scored = sorted(names, key=lambda n: (-len(chars & set(n)), len(n)))
            close.extend(n for n in scored[: limit * 2] if n not in close and chars & set(n))
        return close[:limit]

    def all_names(self) -> list[str]:
        """Every written name and alias: the tokenizer keeps these whole."""
        return sorted({n for e in self.entries.values() for n in (*e.written, *e.aliases)})
