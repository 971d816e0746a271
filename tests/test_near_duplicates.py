from knowledge.cleaning import compact
from knowledge.near_duplicates import Candidate, choose_copies, containment, shingles
from knowledge.service import KnowledgeBase
from tests.conftest import ROOT


def test_the_damaged_copy_is_set_aside_with_a_reason(kb: KnowledgeBase) -> None:
    [aside] = kb.set_aside()
    assert (aside.document_id, aside.duplicate_of) == ("im2015-copy2", "im2015")
    assert "科技行政部门 appears in two blocks" in aside.reason
    assert "im2015-copy2" not in {d.id for d in kb.documents()}


def test_no_clause_exists_only_in_the_damaged_copy(kb: KnowledgeBase) -> None:
    good = compact((ROOT / "knowledge/sources/000_1a339b870c1f782d.txt").read_text(encoding="utf-8"))
    for clause in list(kb.all_clauses()):
        if clause.document.id == "im2015":
            assert (
                compact(clause.text).replace("1", "") in good.replace("l", "").replace("1", "")
                or "和" in clause.text
            )
    texts = {c.text for c in list(kb.all_clauses())}
    # Wording found only in the damaged copy (its 审判 clauses under 工商) never reaches an answer.
    assert not any("加强环境侵权民事案件审理" in t for t in texts)
    assert not any("培养学生的生态文明理念" in t for t in texts)


def test_damaged_copy_clauses_under_wrong_departments_are_not_indexed(kb: KnowledgeBase) -> None:
    court_under_commerce = [
        c for c in list(kb.all_clauses()) if c.department == "工商行政管理部门" and "审判" in c.text
    ]
    assert court_under_commerce == []
    education_under_science = [
        c for c in list(kb.all_clauses()) if c.department == "科技行政部门" and "学校" in c.text
    ]
    assert education_under_science == []


def test_pairs_below_the_threshold_are_both_kept() -> None:
    a = Candidate("a", "生态环境保护责任清单" * 20 + "甲乙丙丁戊己庚辛" * 30, ())
    b = Candidate("b", "完全不同的一份文件内容讲的是别的事情" * 30, ())
    assert choose_copies([a, b]) == []


def test_the_copy_with_fewer_anomalies_wins_whatever_the_order() -> None:
    text = "各级党委环境保护工作职责贯彻落实党中央国务院关于加强环境保护工作的方针政策" * 10
    clean = Candidate("clean", text, ())
    broken = Candidate("broken", text[: len(text) // 2], ("block （十七） repeated",))
    for order in ([clean, broken], [broken, clean]):
        [decision] = choose_copies(order)
        assert (decision.kept, decision.set_aside) == ("clean", "broken")
        assert "1 structural anomalies against 0" in decision.reason


def test_containment_of_a_truncated_copy_is_total() -> None:
    whole = shingles("一二三四五六七八九十" * 5)
    assert containment(whole, shingles(("一二三四五六七八九十" * 5)[:30])) == 1.0


def test_a_copy_is_found_even_when_many_other_documents_reuse_its_wording() -> None:
    """National corpora reuse templates: the stock sentences many lists share must not hide a real copy."""
    import random

    rng = random.Random(7)
    template = [f"第{i}条加强环境保护工作落实生态环境保护责任推进第{i * 7}项重点任务。" for i in range(300)]
    original = "".join(template)
    damaged = "".join(template[:200]) + "".join(template[250:])  # truncated copy
    others = []
    for n in range(120):  # each list reuses half the template, mixed with wording of its own
        own = ["".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(30)) + "。" for _ in range(300)]
        mixed = rng.sample(template, 150) + own
        rng.shuffle(mixed)
        others.append(Candidate(f"other{n}", "".join(mixed), ()))
    candidates = [Candidate("original", original, ()), Candidate("damaged", damaged, ("gap",)), *others]
    assert [(d.kept, d.set_aside) for d in choose_copies(candidates)] == [("original", "damaged")]
