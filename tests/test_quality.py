"""Answer quality as figures: fails when they drop below the bar.

The shared dev set is held to the issue's bar. The project's own set (tests/eval/questions.jsonl) is held to
the floor measured when the current lexicons were written, and so are the blind held-out sets
(tests/eval/holdout.jsonl, holdout2.jsonl, holdout3.jsonl), the probe set (tests/eval/probes.jsonl), the scene set
(tests/eval/scenes.jsonl) and the hotline set (tests/eval/hotline.jsonl); raise the floors when the figures improve.
"""

from pathlib import Path

import pytest

from knowledge.evaluation import Figures, evaluate, load_gold
from knowledge.service import KnowledgeBase
from tests.conftest import ROOT, SHARED

OWN = ROOT / "tests" / "eval" / "questions.jsonl"
DEV = SHARED / "eval" / "dev.jsonl"

HOLDOUT = ROOT / "tests" / "eval" / "holdout.jsonl"
HOLDOUT2 = ROOT / "tests" / "eval" / "holdout2.jsonl"
HOLDOUT3 = ROOT / "tests" / "eval" / "holdout3.jsonl"
HOLDOUT4 = ROOT / "tests" / "eval" / "holdout4.jsonl"
PROBES = ROOT / "tests" / "eval" / "probes.jsonl"
SCENES = ROOT / "tests" / "eval" / "scenes.jsonl"
HOTLINE = ROOT / "tests" / "eval" / "hotline.jsonl"

# Confidently wrong at most 2 % is the issue's own bar; the others sit just under what the set measures.
OWN_FLOOR = {"hit1": 0.98, "hit3": 0.98, "colloquial": 0.93, "refused": 0.96, "confident_wrong": 0.02}
# The held-out set was written without seeing the lexicons or the other questions, and no lexicon entry is taken
# from it: its figures are the honest estimate of how the bot does on questions nobody has tried yet.
HOLDOUT_FLOOR = {"hit1": 0.89, "colloquial": 0.87, "refused": 0.9}
# A second blind set (session 5), written from the documents and the clause table only, without the lexicons, the
# other sets or the bot: 190 questions over every department with an environmental duty, and 30 near misses.
HOLDOUT2_FLOOR = {"hit1": 0.89, "hit3": 0.95, "colloquial": 0.87, "refused": 0.93}
# A third blind set (session 6), written from the clause table only, without the lexicons, the other sets or the
# bot, and told to avoid the documents' terms in colloquial questions: 195 questions over 96 departments, at most
# 12 for the ecology bureau, and 25 near misses. It is the hardest estimate of questions nobody has tried.
HOLDOUT3_FLOOR = {"hit1": 0.77, "hit3": 0.87, "colloquial": 0.73, "refused": 0.92}
# A fourth blind set (session 10), written the same way from the documents and the duty lists the CLI prints: 100
# questions, 70 of them colloquial, over 88 departments of all four documents, and 30 near misses; measured once.
HOLDOUT4_FLOOR = {"hit1": 0.76, "hit3": 0.88, "colloquial": 0.68, "refused": 0.8}
# The probe set asks about every clause of 000 and 003 in everyday words; it was written from the documents,
# without the other sets, and the fourth lexicon pass was checked against it (so it is not blind).
PROBES_FLOOR = {"hit1": 0.91, "hit3": 0.96, "colloquial": 0.84, "refused": 0.93}
# The scene set is how people complain and ask (a hotline log, a village chat, a township cadre, a short phone
# message in dialect, someone who suffered the damage, a business), written without the other sets; the fifth to
# twelfth lexicon passes were written from it, so it is training data, not blind. Its sg- questions (thirteenth
# pass) cover every paragraph of 002 and 004 that names a department, which the earlier scenes barely touched;
# its sp- questions (seventeenth pass) police, the governments' own duties and the remaining pollution complaints;
# its sr- questions (sixteenth pass) the water, forestry and grassland, land and farming departments; its se2-
# questions (nineteenth pass) the ecology bureau's administrative duties; its sv- questions (eighteenth pass) the
# duties of party committees and governments themselves, which still lose to the specific departments' clauses.
# Its p20- to p23- questions (session 6) are the four parallel passes' own: administrative acts, town life,
# industry and hazards, countryside and nature. Its p24- to p27- questions (session 7) go department by department
# through every clause in words the documents never use, and are harder than the rest; p28- officials' jargon
# (programme names, office shorthand), p29- bare topics typed on a phone and input-method slips, p30- to p33- a
# second department-by-department round by fresh helpers who wrote their questions before reading the first, p34-
# to p37- a third such round, with officials asking at work among the speakers; p38- regional speech of Inner
# Mongolia and Xinjiang, p39- officials asking who leads and who assists, p40- to p43- personas (hotline
# transcripts, village WeChat groups, journalists and volunteers, businesses), p44- p45- p47- farmers and herders,
# city residents, young people writing as online; p48- (session 8) daily-life matters beside an environmental duty
# (fees, refunds, doctors, parcels, wages: 100 near misses, of which 29 are still answered, hence the lower refusal
# floor), p49- the duties of governments, party committees, courts, audit and the congress, p50- the paragraphs of
# the national opinion and the governance plan, p51- the departments rarely thought of as environmental.
SCENES_FLOOR = {"hit1": 0.79, "hit3": 0.89, "colloquial": 0.79, "refused": 0.89}
# The hotline set is training data for refusals: what people ask a government hotline that the lists do not cover
# (half of it near misses built on words the lists also use), and covered questions built on the same words.
HOTLINE_FLOOR = {"hit1": 0.81, "refused": 0.67}


def _assert_floor(figures: Figures, floor: dict[str, float]) -> None:
    shares = {
        "hit1": figures.hit1 / figures.who,
        "hit3": figures.hit3 / figures.who,
        "colloquial": figures.hard_ok / figures.hard,
        "refused": figures.refused / figures.none,
    }
    for name, bar in floor.items():
        if name == "confident_wrong":
            assert figures.confident_wrong / figures.who <= bar, figures.lines()
        else:
            assert shares[name] >= bar, (name, figures.lines())


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
    _assert_floor(own, OWN_FLOOR)


@pytest.mark.parametrize(
    ("path", "floor", "who", "colloquial"),
    [
        (HOLDOUT, HOLDOUT_FLOOR, 90, 70),
        (HOLDOUT2, HOLDOUT2_FLOOR, 180, 130),
        (HOLDOUT3, HOLDOUT3_FLOOR, 190, 150),
        (HOLDOUT4, HOLDOUT4_FLOOR, 100, 70),
        (PROBES, PROBES_FLOOR, 450, 200),
        (SCENES, SCENES_FLOOR, 1400, 1400),
        (HOTLINE, HOTLINE_FLOOR, 90, 0),
    ],
    ids=["held-out", "held-out-2", "held-out-3", "held-out-4", "probes", "scenes", "hotline"],
)
def test_other_sets_meet_their_floor(
    kb: KnowledgeBase, path: Path, floor: dict[str, float], who: int, colloquial: int
) -> None:
    figures = evaluate(kb, load_gold(path))
    assert figures.who >= who and figures.hard >= colloquial
    _assert_floor(figures, floor)


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
