"""The manifest of source documents (knowledge/manifest.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import SourceError
from knowledge.models import DocumentInfo

KNOWLEDGE_DIR = Path(__file__).parent
MANIFEST_PATH = KNOWLEDGE_DIR / "manifest.toml"
LEVELS = ("national", "provincial", "prefecture", "county")
KINDS = ("duty_list", "narrative")
REQUIRED = ("id", "file", "title", "region", "level", "kind")
CHECKED_FIELDS = ("title", "issuer", "date", "doc_number", "region")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    info: DocumentInfo
    path: Path
    general_subject: str
    page_headers: tuple[str, ...]

    @property
    def is_duty_list(self) -> bool:
        return self.info.kind == "duty_list"


def load_manifest(path: Path = MANIFEST_PATH) -> list[SourceSpec]:
    """Every [[document]] entry, validated; a bad entry raises SourceError naming the file and the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"{path}: {exc}") from exc
    specs = []
    seen: set[str] = set()
    for n, entry in enumerate(data.get("document", []), start=1):
        where = f"{path}: document #{n} ({entry.get('id', '?')})"
        missing = [f for f in REQUIRED if not entry.get(f)]
        if missing:
            raise SourceError(f"{where}: missing {', '.join(missing)}")
        if entry["level"] not in LEVELS:
            raise SourceError(f"{where}: level must be one of {', '.join(LEVELS)}")
        if entry["kind"] not in KINDS:
            raise SourceError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if entry["id"] in seen:
            raise SourceError(f"{where}: duplicate id")
        seen.add(entry["id"])
        source = path.parent / "sources" / entry["file"]
        if not source.is_file():
            raise SourceError(f"{where}: source file {source} not found")
        info = DocumentInfo(
            id=entry["id"],
            title=entry["title"],
            issuer=entry.get("issuer", ""),
            date=entry.get("date", ""),
            doc_number=entry.get("doc_number", ""),
            region=entry["region"],
            level=entry["level"],
            kind=entry["kind"],
            inferred=tuple(entry.get("inferred", ())),
            notes=entry.get("notes", ""),
        )
        specs.append(
            SourceSpec(info, source, entry.get("general_subject", ""), tuple(entry.get("page_headers", ())))
        )
    if not specs:
        raise SourceError(f"{path}: no [[document]] entries")
    return specs


def read_source(spec: SourceSpec) -> str:
    """The source text; undecodable bytes raise SourceError with the line they are on."""
    data = spec.path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"{spec.path}:{line}: not valid UTF-8 ({exc.reason})") from exc
