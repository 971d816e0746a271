"""RELIABILITY.md is written from what the reliability tests record while they run.

A test calls `reliability.record(area, what, tried, held)`; when the session ends and at least one reliability
test ran, the figures are written to RELIABILITY.md, so the document always states what the last full run
tried and what held. Figures from a run that failed are marked as such.
"""

from __future__ import annotations

import datetime
import os
import platform
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "RELIABILITY.md"
AREAS = ("Bad input", "Faults", "Load and soak", "Security", "Multi-process")


@dataclass
class Finding:
    area: str
    what: str
    tried: int
    held: int
    note: str = ""


@dataclass
class Recorder:
    findings: list[Finding] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, area: str, what: str, tried: int, held: int, note: str = "") -> None:
        assert area in AREAS, area
        with self.lock:
            self.findings.append(Finding(area, what, tried, held, note))

    def markdown(self, failed: bool) -> str:
        lines = [
            "# Reliability",
            "",
            "Written by the test suite (`make test`; `tests/reliability.py`) from what the reliability tests tried"
            " and what held. Do not edit by hand.",
            "",
            f"Last run: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
            f"{platform.python_version()}, {os.cpu_count()} cores"
            + (" — **this run had failing tests; figures may be incomplete**" if failed else ""),
        ]
        for area in AREAS:
            rows = [f for f in self.findings if f.area == area]
            if not rows:
                continue
            lines += ["", f"## {area}", "", "| what | tried | held | notes |", "|---|---:|---:|---|"]
            merged: dict[str, Finding] = {}
            for f in rows:
                if f.what in merged:
                    m = merged[f.what]
                    m.tried += f.tried
                    m.held += f.held
                    m.note = m.note or f.note
                else:
                    merged[f.what] = Finding(f.area, f.what, f.tried, f.held, f.note)
            for f in merged.values():
                lines.append(f"| {f.what} | {f.tried} | {f.held} | {f.note} |")
        return "\n".join(lines) + "\n"


RECORDER = Recorder()
