"""Answering on the real corpus: the question → department table from the brief, filters, refusals."""

import json

import numpy as np
import pytest

from knowledge.answering import LEAD_PREFERENCE
from knowledge.query import EXPANSION_WEIGHT, FIELD_WEIGHT, _abbreviates
from knowledge.retrieval import LuceneBM25
from knowledge.service import KnowledgeBase
from knowledge.storage import ClauseStore
from knowledge.tokenize import searchable


@pytest.mark.parametrize(
    ("question", "department"),
    [
        ("哪个部门负责秸秆禁烧？", "农牧业部门"),
        ("誰負責秸稈禁燒", "农牧业部门"),
        ("工地扬尘归谁管", "住房和城乡建设部门"),
        ("快递包装太多了，谁来管？", "州邮政管理局"),
        ("放射源丢了找谁", "州公安局"),
        ("扬尘", "住"),
        ("饮用水卫生监督监测归哪个部门", "卫生"),
        ("非煤矿山安全监管谁负责", "安全生产监督管理部门"),
    ],
)
def test_the_top_answer_names_the_responsible_department(
    kb: KnowledgeBase, question: str, department: str
) -> None:
    result = kb.ask(question)
    assert result.outcome == "answered"
    assert department in result.answers[0].clause.department


def test_traditional_characters_are_read_as_simplified(kb: KnowledgeBase) -> None:
    assert [a.clause.id for a in kb.ask("誰負責秸稈禁燒").answers] == [
        a.clause.id for a in kb.ask("谁负责秸秆禁烧").answers
    ]


def test_a_named_department_scopes_the_answer(kb: KnowledgeBase) -> None:
    result = kb.ask("公安局在机动车污染方面管什么")
    assert result.understood.department_keys[0] == "public_security"
    assert result.answers and all("公安" in a.clause.department for a in result.answers)
    assert any("机动车" in a.clause.text for a in result.answers)


@pytest.mark.parametrize(
    ("question", "documents"),
    [
        ("昌吉州谁负责快递包装回收", {"changji2021"}),
        ("内蒙古的噪声污染由哪些部门负责", {"im2015", "im-governance"}),
        ("全国层面生态环境部门履行什么职责", {"national-opinion"}),
    ],
)
def test_a_named_region_scopes_the_documents(kb: KnowledgeBase, question: str, documents: set[str]) -> None:
    result = kb.ask(question)
    assert result.answers
    assert {a.clause.document.id for a in result.answers} <= documents


@pytest.mark.parametrize(
    ("question", "term"),
    [("全国碳市场建设哪个部门负责", "全国碳市场"), ("全国低碳日活动谁来组织", "全国低碳日")],
)
def test_a_region_inside_a_term_of_the_lists_is_not_a_filter(
    kb: KnowledgeBase, question: str, term: str
) -> None:
    result = kb.ask(question)
    assert not result.understood.region
    assert term in result.answers[0].clause.text


def test_a_chat_region_ranks_its_documents_first_without_hiding_others(kb: KnowledgeBase) -> None:
    plain = kb.ask("扬尘")
    preferred = kb.ask("扬尘", prefer_region="昌吉回族自治州")
    assert preferred.answers[0].clause.document.id == "changji2021"
    assert {a.clause.document.id for a in preferred.answers} == {a.clause.document.id for a in plain.answers}


@pytest.mark.parametrize(
    "question",
    [
        "哪个部门负责办理护照",
        "哪个部门负责发放身份证",
        "住房公积金想取出来找谁",
        "低保谁管",
        # Everyday words broad enough to fit any matter (吃亏, 外包, 停用, 谁出钱) must not make one look covered.
        "在网上买东西吃亏了找谁",
        "家里装修想外包找谁",
        "手机停用了怎么办",
        "孩子上学谁出钱",
        "在单位被同事排挤找谁",
        "想自费出书找哪个部门",
        "老人摔倒了谁来救治",
    ],
)
def test_uncovered_matters_are_refused_naming_what_is_missing(kb: KnowledgeBase, question: str) -> None:
    result = kb.ask(question)
    assert result.no_answer and result.outcome == "refused"
    assert result.answers == ()
    assert "没有规定" in result.message


def test_one_character_everyday_words_do_not_vouch_for_an_uncovered_matter(kb: KnowledgeBase) -> None:
    # 厂子 leads to pollution duties, but the matter is a house transfer; 买 must not tip the balance.
    result = kb.ask("厂子赔了钱，想买房子，过户在哪办")
    assert "买" in {spoken for spoken, _ in result.understood.expansions}
    assert result.understood.out_of_scope and result.outcome == "refused"


def test_an_everyday_word_naming_a_place_does_not_vouch_for_the_matter(kb: KnowledgeBase) -> None:
    # 卫生院 leads to the clinics' duties (医疗卫生机构), but queuing to register is no environmental matter.
    queue = kb.ask("卫生院挂号排队太久")
    assert "卫生院" in dict(queue.understood.expansions) and queue.outcome == "refused"
    # The matter in everyday words still vouches: a restaurant's fumes are the lists' 餐饮业服务油烟.
    assert kb.ask("饭馆的油烟太呛人").outcome == "answered"


def test_how_the_asker_reaches_an_office_does_not_vouch_for_the_matter(kb: KnowledgeBase) -> None:
    # 举报 leads to the complaint duties (信访投诉), but a teacher's red envelope is no environmental matter.
    bribe = kb.ask("老师收家长红包，找谁举报")
    assert "举报" in dict(bribe.understood.expansions) and bribe.outcome == "refused"
    # Nor does 投诉 outweigh a named non-environmental matter beside a word the lists know (工地).
    wages = kb.ask("工地老板欠薪跑了，去哪投诉")
    assert wages.understood.out_of_scope and wages.outcome == "refused"


def test_a_report_of_illegal_discharge_goes_to_the_enforcement_duty(kb: KnowledgeBase) -> None:
    # 举报 is what the lists receive as 信访投诉: the ecology bureau's enforcement and complaints duty answers.
    result = kb.ask("发现有人非法排污，怎么举报")
    assert result.outcome == "answered"
    top = result.answers[0].clause
    assert top.department_key == "ecology" and "信访投诉" in top.text


def test_a_one_character_verb_counts_only_standing_alone(kb: KnowledgeBase) -> None:
    selling = kb.ask("菜市场有人卖野鸡")
    assert dict(selling.understood.expansions)["卖"] == ("出售", "销售")
    # Inside another word the character means something else, and a matter the lists do not cover stays refused.
    # An idiom is read whole: 狼 in 鬼哭狼嚎 is no wild animal.
    assert "狼" not in dict(kb.ask("楼下的歌厅半夜鬼哭狼嚎").understood.expansions)
    for question in ("拐卖儿童找谁", "卖淫嫖娼谁管"):
        result = kb.ask(question)
        assert "卖" not in dict(result.understood.expansions)
        assert result.outcome == "refused"
    # Standing alone elsewhere in the question, it does not hide the word it is part of.
    trafficking = kb.ask("有人在街上卖小孩，怀疑是拐卖的")
    assert "卖" in dict(trafficking.understood.expansions) and "拐卖" in trafficking.understood.out_of_scope
    assert trafficking.outcome == "refused"


def test_everyday_phrases_are_found_with_particles_and_counts_inside(kb: KnowledgeBase) -> None:
    assert "烧秸秆" in dict(kb.ask("地里有人烧了秸秆").understood.expansions)
    assert "留下大坑" in dict(kb.ask("挖矿的留下好几个大坑").understood.expansions)
    # 的 makes a relative clause: the stones dug (挖的石头) are not digging stones (挖石头).
    assert "挖石头" not in dict(kb.ask("矿上挖的石头带射线").understood.expansions)
    # A phrase found only across a gap may not share words with one found as typed: 乱扔 is 游客乱扔's.
    assert "乱扔垃圾" not in dict(kb.ask("游客乱扔的垃圾没人管").understood.expansions)


@pytest.mark.parametrize("question", ["", "   ", "谁管？", "哪个部门负责", "😀😀", "<b>?</b>"])
def test_a_question_without_a_topic_asks_for_one(kb: KnowledgeBase, question: str) -> None:
    result = kb.ask(question)
    assert result.outcome == "no_topic" and result.no_answer
    assert "例如" in result.message


@pytest.mark.parametrize("name", ["环保局", "国土局", "公安局"])
def test_a_bare_department_routes_to_its_duty_list(kb: KnowledgeBase, name: str) -> None:
    result = kb.ask(name)
    assert result.outcome == "duties" and not result.no_answer
    assert result.duties is not None and result.duties.matches


def test_a_duty_the_asker_already_knows_is_left_out(kb: KnowledgeBase) -> None:
    result = kb.ask("民政局除了社会团体登记还管什么")
    assert result.understood.excluded == ("社会团体", "登记") or "社会团体" in "".join(
        result.understood.excluded
    )
    assert result.answers and all("民政" in a.clause.department for a in result.answers)
    assert all("社会团体" not in a.clause.text for a in result.answers)


def test_a_department_the_asker_already_knows_is_left_out(kb: KnowledgeBase) -> None:
    plain = kb.ask("哪些部门管机动车尾气")
    assert any("公安" in a.clause.department for a in plain.answers)
    result = kb.ask("除了公安局，还有哪些部门管机动车尾气")
    assert not result.understood.department_keys
    assert result.answers and all("公安" not in a.clause.department for a in result.answers)


@pytest.mark.parametrize(
    "question",
    [
        "公安局在环保方面管什么",
        "民政局在生态环境保护工作中负责什么",
        "乡镇政府该干啥",
        # the shortest cut of 「县政府…」 is 县政, no name; the longest name the question opens with is taken
        "县政府在环保上要干啥",
        # staff asking about their own office, at their own level: neither 咱们 nor 县 is part of the name
        "咱们乡政府在环保上要干啥",
        "县环保局管什么",
        "旗里的林草局管哪些",
        "乡政府管到哪一步",
        "审计局查些什么",
        "人大环资委是干啥的",
        "组织部在环保这块管什么",
    ],
)
def test_a_department_asked_about_the_whole_field_gets_its_duty_list(
    kb: KnowledgeBase, question: str
) -> None:
    result = kb.ask(question)
    assert result.outcome == "duties" and result.duties is not None and result.duties.matches


def test_the_office_asked_about_may_open_the_last_segment(kb: KnowledgeBase) -> None:
    # What comes before the comma is the topic, not a department named 环境.
    result = kb.ask("环境执法和司法怎么衔接，法院有什么职责")
    assert "法院" in result.understood.department
    assert result.answers and "衔接" in result.answers[0].clause.text
    assert all("法院" in a.clause.canonical for a in result.answers)


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("环保部门申请法院强制执行罚款，法院接不接", "法院"),
        ("州环保局能不能管下级县委县政府的环保工作", "环保局"),
    ],
)
def test_the_office_opening_a_segment_is_the_one_asked_about(
    kb: KnowledgeBase, question: str, asked: str
) -> None:
    # The offices named inside the segment are what the opening one is asked about.
    assert kb.ask(question).understood.department == asked


def test_a_chat_mention_is_not_part_of_the_question(kb: KnowledgeBase) -> None:
    result = kb.ask("@所有人 秸秆禁烧谁负责")
    assert result.understood.units == ("秸秆禁烧",)
    assert result.answers and "农" in result.answers[0].clause.department


@pytest.mark.parametrize(
    ("question", "known"),
    [
        ("对环保局罚款不服，申请行政复议找谁", "生态环境"),
        ("公安局和哪个部门一起管尾气", "公安"),
        ("住建局的人吃拿卡要，该往哪反映", "住房"),
    ],
)
def test_a_department_named_in_a_question_asking_who_is_not_the_answer(
    kb: KnowledgeBase, question: str, known: str
) -> None:
    result = kb.ask(question)
    assert not result.understood.department_keys and result.answers
    assert all(known not in a.clause.department + a.clause.canonical for a in result.answers)


@pytest.mark.parametrize(
    ("question", "named", "answer"),
    [
        ("入河排污口水利局和环保局都说不归自己，到底谁管", ("水利", "生态环境"), "水利"),
        ("工地扬尘住建局和环保局互相推，到底归谁", ("住房", "生态环境"), "住房"),
        # a government is no office by its name's ending, yet it can push a matter on as well
        ("企业环保措施不落实，乡政府和环保局互相推，到底归谁", ("乡镇", "生态环境"), "乡镇"),
    ],
)
def test_offices_that_each_deny_a_matter_are_the_ones_to_choose_from(
    kb: KnowledgeBase, question: str, named: tuple[str, ...], answer: str
) -> None:
    # Asking who, but about a dispute between the offices named: the answer is one of them, not someone else.
    result = kb.ask(question)
    assert len(result.understood.department_keys) >= 2 and not result.understood.excluded_departments
    assert all(any(n in a.clause.canonical for n in named) for a in result.answers)
    assert answer in result.answers[0].clause.canonical


def test_a_clinic_is_a_place_not_the_health_department(kb: KnowledgeBase) -> None:
    # 卫生院 is a township clinic: naming it must not leave the health department out as "already known".
    result = kb.ask("乡里卫生院的医疗废物乱扔，谁管")
    assert not result.understood.excluded_departments
    assert "卫生" in result.answers[0].clause.department


@pytest.mark.parametrize("question", ["住建局负责哪些扬尘工作", "公安局管哪些污染"])
def test_a_department_asked_which_of_its_duties_still_scopes_the_answer(
    kb: KnowledgeBase, question: str
) -> None:
    result = kb.ask(question)
    assert result.understood.department_keys and not result.understood.excluded_departments
    assert result.understood.department_keys[0] == result.answers[0].clause.department_key


@pytest.mark.parametrize(
    ("question", "receiver", "handing"),
    [
        ("没有执法权的部门碰到破坏生态环境的犯罪案件，要移交给哪个部门？", "生态环境部门", "有关职能部门"),
        ("督察时查出弄虚作假、失职失责的问题，应当转交给谁处理", "纪检监察机关", "有关职能部门"),
    ],
)
def test_a_question_about_handing_a_matter_over_is_answered_with_the_receiver(
    kb: KnowledgeBase, question: str, receiver: str, handing: str
) -> None:
    result = kb.ask(question)
    top = result.answers[0].clause
    assert result.understood.recipient and "移交" not in result.understood.units
    assert receiver in top.department and top.role == "lead"
    assert handing in top.partners
    stored = kb.clause(top.id)
    assert stored is not None and stored.department == handing and stored.text == top.text


def test_without_asking_for_the_receiver_the_clause_keeps_its_department(kb: KnowledgeBase) -> None:
    result = kb.ask("破坏生态环境涉嫌违法犯罪的案件由谁依法办理")
    assert not result.understood.recipient
    handing = [a.clause for a in result.answers if "转至生态环境部门" in a.clause.text]
    assert handing and handing[0].department == "有关职能部门"


def test_how_the_asker_reaches_an_office_is_not_the_topic(kb: KnowledgeBase) -> None:
    # 申请/办理 are in many clauses; with them as topic words a question about an unknown matter found a clause.
    result = kb.ask("老人过生日的长寿补贴去哪申请")
    assert result.no_answer and result.outcome == "refused"


def test_the_law_a_duty_follows_is_not_what_the_duty_is_about() -> None:
    duty = "依照环境影响评价法律规定，办理建设项目审批、核准、备案手续。"
    assert "环境影响评价" not in searchable(duty) and "办理建设项目审批、核准、备案手续" in searchable(duty)
    kept = "按照国家、自治区及自治州规定负责项目环境影响评价审批。"
    assert "负责项目环境影响评价审批" in searchable(kept)


@pytest.mark.parametrize("question", ["环境影响评价审批由哪个部门负责", "环评文件谁审批"])
def test_impact_assessment_approval_is_the_ecology_bureaus(kb: KnowledgeBase, question: str) -> None:
    # Six sector clauses of the 2015 list begin 「依照环境影响评价法律规定，办理…审批」; they must not outrank it.
    top = kb.ask(question).answers[0]
    assert "生态环境" in top.clause.department and "环境影响评价审批" in top.clause.text


def test_an_abbreviation_weighs_as_much_as_what_it_stands_for(kb: KnowledgeBase) -> None:
    assert dict(kb.ask("环评谁批").understood.terms)["环境影响评价"] == 1.0
    assert dict(kb.ask("噪音太大谁管").understood.terms)["噪声"] == EXPANSION_WEIGHT
    # Broader or narrower terms are not abbreviations: 国有企业 → 国有企事业单位, 错峰 → 错峰生产.
    assert not _abbreviates("国有企业", "国有企事业单位") and _abbreviates("危废", "危险废物")
    assert dict(kb.ask("错峰谁安排").understood.terms)["错峰生产"] == EXPANSION_WEIGHT


def test_words_naming_the_whole_field_weigh_less_than_the_matter(kb: KnowledgeBase) -> None:
    # 「环保」 said in passing must not pull clauses that merely say 环境保护 above those about the matter.
    terms = dict(kb.ask("厂里环保设备的用电谁来管").understood.terms)
    assert terms["环保"] == FIELD_WEIGHT < terms["用电"] == 1.0


def test_a_duty_for_the_epidemic_answers_only_questions_about_that_time(kb: KnowledgeBase) -> None:
    today = kb.ask("城镇污水处理厂归谁管").answers[0]
    assert today.clause.department == "州住建局" and "疫情" not in today.clause.text
    then = kb.ask("疫情期间城镇污水处理归谁管").answers[0]
    assert then.clause.department == "州住建局" and "疫情期间" in then.clause.text


def test_no_clause_is_shown_twice(kb: KnowledgeBase) -> None:
    for question in ("扬尘", "噪声", "危险化学品运输", "饮用水", "生态补偿", "信用评价"):
        answers = kb.ask(question).answers
        keys = [(a.clause.document.id, a.clause.text) for a in answers]
        assert len(keys) == len(set(keys)), question


def test_a_department_is_shown_by_its_leading_clause_when_one_scores_close(kb: KnowledgeBase) -> None:
    answerer = kb._answerer
    clauses = list(kb.all_clauses())
    for question in ("机动车尾气污染", "突发环境事件应急处置", "医疗废物", "重污染天气", "危险化学品"):
        result = kb.ask(question)
        scores = answerer.scores(result.understood)
        for answer in result.answers:
            if answer.clause.role != "assist":
                continue
            for clause in clauses:
                same = (
                    clause.department_key == answer.clause.department_key
                    and clause.document.id == answer.clause.document.id
                )
                if same and clause.role == "lead":
                    assert scores[clause.id - 1] < LEAD_PREFERENCE * answer.score + 1e-6, (
                        question,
                        clause.ref,
                    )


def test_answers_are_ranked_by_score_and_carry_matched_terms(kb: KnowledgeBase) -> None:
    answers = kb.ask("城镇污水处理设施建设归谁管").answers
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)
    assert "污水" in answers[0].matched_terms or any("污水" in t for t in answers[0].matched_terms)


def test_answer_json_follows_the_cli_contract(kb: KnowledgeBase) -> None:
    data = json.loads(json.dumps(kb.ask("工地扬尘归谁管").to_json(), ensure_ascii=False))
    assert data["no_answer"] is False
    first = data["answers"][0]
    assert {
        "department",
        "role",
        "text",
        "document",
        "section",
        "item",
        "score",
        "partners",
        "matched_terms",
    } <= set(first)
    assert {"title", "issuer", "date", "doc_number", "region"} <= set(first["document"])
    assert {"region", "department", "topic", "missing"} <= set(data["understood"])


def test_the_index_reproduces_rank_bm25_on_the_real_corpus(kb: KnowledgeBase) -> None:
    """Every clause's word score equals rank-bm25's, computed from the same clause words."""
    ids = [c.id for c in kb.all_clauses()]
    words = [sorted(w) for _, w in kb.store.get_many(ids)]
    joined = {c.id: c for c in kb.all_clauses()}
    assert len(joined) == len(words)
    reference = LuceneBM25([_tokens(kb, i) for i in ids])
    for terms in (["扬尘"], ["机动车", "尾气", "污染"], ["秸秆禁烧", "秸秆", "不存在的词"]):
        ours = kb.data.index.words.scores(dict.fromkeys(terms, 1.0))
        assert np.allclose(ours, reference.get_scores(terms), rtol=1e-5, atol=1e-5)
    assert words


def _tokens(kb: KnowledgeBase, clause_id: int) -> list[str]:
    """The clause's index tokens with repeats, as the build cut them."""
    clause = kb.clause(clause_id)
    assert clause is not None
    return kb.data.analyzer.words(searchable(clause.text))


def test_ranking_reads_the_text_and_words_of_whole_clauses(kb: KnowledgeBase) -> None:
    """`texts` (what ranking reads of each candidate) agrees with whole clauses, from SQLite and from the cache."""
    ids = [c.id for c in kb.all_clauses()][::-3]
    fresh = ClauseStore(kb.store.path, kb.store.documents, kb.store.lexicon)
    whole = fresh.get_many(ids)
    for texts in (
        ClauseStore(kb.store.path, kb.store.documents, kb.store.lexicon).texts(ids),
        fresh.texts(ids),
    ):
        assert [t for t, _ in texts] == [c.text for c, _ in whole]
        assert [frozenset(w.split()) for _, w in texts] == [w for _, w in whole]
        assert all(w.startswith(" ") and w.endswith(" ") for _, w in texts)
