from collections import Counter

import pytest

from knowledge.cleaning import clean_line, clean_lines, normalize_width


@pytest.mark.parametrize(
    ("raw", "cleaned", "fix"),
    [
        ("1.贯 彻 执 行 国 家 环 境 保 护 法 律 法", "1.贯彻执行国家环境保护法律法", "ocr_spacing"),
        ("l.将生态文明建设", "1.将生态文明建设", "item_number"),
        ("I.协调媒体加强环境保护宣传", "1.协调媒体加强环境保护宣传", "item_number"),
        ("建立健全生态功能区 and 生态保护红线", "建立健全生态功能区和生态保护红线", "stray_and"),
        ("- 1.加强环境保护行政执法", "1.加强环境保护行政执法", "list_bullet"),
        ("(二)发展和改革委员会工作职责", "（二）发展和改革委员会工作职责", "punctuation_width"),
        ("依法审判执行,维护权益;加强", "依法审判执行，维护权益；加强", "punctuation_width"),
        ("１５.制定", "15.制定", "punctuation_width"),
    ],
)
def test_each_ocr_defect_is_fixed_and_counted(raw: str, cleaned: str, fix: str) -> None:
    fixes: Counter[str] = Counter()
    assert clean_line(raw, fixes) == cleaned
    assert fixes[fix] == 1


def test_english_text_keeps_its_spaces() -> None:
    assert clean_line("PM 2.5 and PM10", Counter()) == "PM 2.5 and PM10"


def test_width_normalization_is_idempotent() -> None:
    text = "（一）州纪委监委机关，负责：监督。"
    assert normalize_width(normalize_width(text)) == normalize_width(text) == text


def test_page_headers_and_cover_notice_are_metadata_not_body() -> None:
    raw = "\n".join(
        [
            "一、政府职能部门职责",
            "（一）公安部门工作职责",
            "1.依法侦办涉嫌环境刑事犯罪案件。",
            "内蒙古自治区党委办公厅、自治区人民政府办公厅印发",
            "党委、政府及有关部门环境保护工作职责",
            "2.根据职责对社会生活噪声污染进行监督管理。",
            "各盟市委，盟行政公署、市人民政府，自治区各部、委、办、厅、局和各人",
            "民团体：",
            "《党委、政府及有关部门环境保护工作职责》已经自治区党委、政府同",
            "意，现印发给你们，请结合实际认真贯彻执行。",
            "中共内蒙古自治区委员会办公厅",
            "2015 年 12月 31日",
        ]
    )
    lines, fixes = clean_lines(
        raw,
        title="党委、政府及有关部门环境保护工作职责",
        page_headers=("内蒙古自治区党委办公厅、自治区人民政府办公厅印发",),
    )
    body = [line.text for line in lines if line.is_body]
    assert body == [
        "一、政府职能部门职责",
        "（一）公安部门工作职责",
        "1.依法侦办涉嫌环境刑事犯罪案件。",
        "2.根据职责对社会生活噪声污染进行监督管理。",
    ]
    assert fixes["page_header"] == 2
    assert fixes["cover_notice"] == 6


def test_raw_line_is_kept_beside_the_cleaned_one() -> None:
    lines, _ = clean_lines("l.贯 彻 执 行", title="x")
    assert lines[0].raw == "l.贯 彻 执 行"
    assert lines[0].text == "1.贯彻执行"


def test_cleaning_never_invents_characters(kb_sources: list[tuple[str, str]]) -> None:
    """Every cleaned character exists in the raw line or is one of the documented substitutions."""
    allowed_new = set("和1，；：（）？！") | set(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    )
    for name, raw in kb_sources:
        lines, _ = clean_lines(raw, title="")
        for line in lines:
            invented = set(line.text) - set(line.raw) - allowed_new
            assert not invented, f"{name}:{line.number} invented {invented}"


@pytest.fixture(scope="module")
def kb_sources() -> list[tuple[str, str]]:
    from knowledge.manifest import load_manifest, read_source

    return [(spec.path.name, read_source(spec)) for spec in load_manifest()]
