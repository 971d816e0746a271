"""Answer quality as figures: fails when they drop below the bar.

The shared dev set is held to the issue's bar. The project's own set (tests/eval/questions.jsonl) is held to
the floor measured when the current lexicons were written, and so is the blind held-out set
(tests/eval/holdout.jsonl) and the probe set (tests/eval/probes.jsonl); raise the floors when the figures
improve.
"""

from pathlib import Path

import pytest

from knowledge.evaluation import Figures, evaluate, load_gold
from knowledge.service import KnowledgeBase
from tests.conftest import ROOT, SHARED

OWN = ROOT / "tests" / "eval" / "questions.jsonl"
DEV = SHARED / "eval" / "dev.jsonl"

HOLDOUT = ROOT / "tests" / "eval" / "holdout.jsonl"
PROBES = ROOT / "tests" / "eval" / "probes.jsonl"

OWN_FLOOR = {"hit1": 0.95, "hit3": 0.96, "colloquial": 0.84, "refused": 0.96, "confident_wrong": 0.05}
# The held-out set was written without seeing the lexicons or the other questions, and no lexicon entry is taken
# from it: its figures are the honest estimate of how the bot does on questions nobody has tried yet.
HOLDOUT_FLOOR = {"hit1": 0.76, "colloquial": 0.72, "refused": 0.9}
# The probe set asks about every clause of 000 and 003 in everyday words; it was written from the documents,
# without the other sets, and the fourth lexicon pass was checked against it (so it is not blind).
PROBES_FLOOR = {"hit1": 0.87, "hit3": 0.94, "colloquial": 0.78, "refused": 0.9}


@pytest.fixture(scope="module")
def own(kb: KnowledgeBase) -> Figures:
    return evaluate(kb, load_gold(OWN))


def test_own_question_set_is_large_and_varied() -> None:
    gold = load_gold(OWN)
    kinds = {g.get("kind") for g in gold}
    assert len(gold) >= 120
    assert {
        "formal",
        "colloquial",
        "bare",
        "dept_scoped",
        "region_scoped",
        "traditional",
        "none",
        "trap",
        "duties",
    } <= kinds


def test_own_set_meets_the_floor(own: Figures) -> None:
    assert own.hit1 / own.who >= OWN_FLOOR["hit1"], own.lines()
    assert own.hit3 / own.who >= OWN_FLOOR["hit3"], own.lines()
    assert own.hard_ok / own.hard >= OWN_FLOOR["colloquial"], own.lines()
    assert own.refused / own.none >= OWN_FLOOR["refused"], own.lines()
    assert own.confident_wrong / own.who <= OWN_FLOOR["confident_wrong"], own.lines()


def test_held_out_set_meets_its_floor(kb: KnowledgeBase) -> None:
    held = evaluate(kb, load_gold(HOLDOUT))
    assert held.who >= 90 and held.hard >= 70
    assert held.hit1 / held.who >= HOLDOUT_FLOOR["hit1"], held.lines()
    assert held.hard_ok / held.hard >= HOLDOUT_FLOOR["colloquial"], held.lines()
    assert held.refused / held.none >= HOLDOUT_FLOOR["refused"], held.lines()


def test_probe_set_meets_its_floor(kb: KnowledgeBase) -> None:
    probes = evaluate(kb, load_gold(PROBES))
    assert probes.who >= 450 and probes.hard >= 200
    assert probes.hit1 / probes.who >= PROBES_FLOOR["hit1"], probes.lines()
    assert probes.hit3 / probes.who >= PROBES_FLOOR["hit3"], probes.lines()
    assert probes.hard_ok / probes.hard >= PROBES_FLOOR["colloquial"], probes.lines()
    assert probes.refused / probes.none >= PROBES_FLOOR["refused"], probes.lines()


def test_traps_from_the_damaged_copy_are_all_answered_right(own: Figures) -> None:
    assert own.traps >= 10 and own.traps_ok == own.traps


def test_every_duties_question_is_exact(own: Figures) -> None:
    assert own.duty_groups_ok == own.duty_groups


@pytest.mark.skipif(not Path(DEV).exists(), reason="shared/eval is not beside this checkout")
def test_shared_dev_set_meets_the_issue_bar(kb: KnowledgeBase) -> None:
    dev = evaluate(kb, load_gold(DEV))
    assert dev.hit1 / dev.who >= 0.95, dev.lines()
    assert dev.hit3 == dev.who, dev.lines()
    assert dev.refused == dev.none, dev.lines()
    assert dev.duty_names_ok == dev.duty_names, dev.lines()
