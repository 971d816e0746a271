"""Synthetic national-scale corpora in the project's own source format, for the scale benchmark.

Usage: .venv/bin/python bench/synthetic.py --clauses 100k --out bench/out/corpus-100k [--seed 1] [--check 200]

Writes OUT/manifest.toml, OUT/sources/*.txt and OUT/lexicon/. The five real sources and their manifest
entries are copied unchanged (the damaged copy 001 included, so duplicate detection still runs); then
duty lists of invented prefectures and counties are added, written like 003 (昌吉州): title, cover notice
with issuer lines, 文号 and date, `一、` sections, `（N）<place-prefixed department>` blocks, `1.` items,
now and then a block as one paragraph. Their duties recombine fragments (split at 。；，) of the real
duty items of 000 and 003 of the same kind of department, with place words, department names and a few
interchangeable verbs varied per document, so documents read plausibly but are not near-duplicates of
each other or of the real lists (see `check_near_duplicates`). The lexicon is copied; the invented regions
are appended to lexicon/regions.toml (within their province or prefecture) so that a question naming one
is scoped to it, as a real region's would be (`--plain-lexicon` leaves the lexicon byte-identical).

Sizes: about 300 prefecture lists (~260 duties each) give 100k clauses; county lists (~300 duties each)
take it to 1M. The same seed and size give the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"
# The duty lists whose items are recombined; 001 is a damaged copy of 000 and is not used as material.
MATERIAL = ("000_1a339b870c1f782d.txt", "003_699e7109b801e591.txt")
# Clauses the real documents contribute (544 in the build of 2026-11); only used to aim at the total.
REAL_CLAUSES = 544
GENERATOR_VERSION = "4"
SHINGLE = 8

_SECTION = re.compile(r"^([一二三四五六七八九十]+)、(.*)$")
_BLOCK = re.compile(r"^（([一二三四五六七八九十百]+)）(.*)$")
_ITEM_NUMBER = re.compile(r"^(\d{1,2}|[lI])[.．](.*)$")
_HEADER_SUFFIX = re.compile(r"(环境保护)?(工作)?职责$")
_FRAGMENT = re.compile(r"[^，。；]+[，。；]?")
_LEADING_NUMBER = re.compile(r"^(（\d+）|\d+[.．、]|[①-⑩])")

# ---------------------------------------------------------------------------------------------------------
# Department types: the synthetic name (templates: {R} region, {S} short name, {U} 市/县/州), the section it
# sits in, and the real block headers (without 州 prefix or 工作职责 suffix) whose items are its material.
# A second name, when given, is the long form some documents use instead of the abbreviation.


@dataclass(frozen=True, slots=True)
class DeptType:
    key: str
    section: int  # 1 party, 2 people's congress, 3 government, 4 courts and procuratorates
    names: tuple[str, ...]
    sources: tuple[str, ...]
    county_names: tuple[str, ...] = ()  # "" entry: counties have no such body
    single_paragraph: float = 0.08  # chance the block is written as one paragraph


DEPT_TYPES: tuple[DeptType, ...] = (
    DeptType("discipline", 1, ("{R}纪委监委机关", "{R}纪委监委"), ("州纪委监委机关", "监察部门")),
    DeptType("party_office", 1, ("{R}委办公室",), ("州党委办公室",)),
    DeptType("organization", 1, ("{R}委组织部",), ("州党委组织部", "组织部门")),
    DeptType("propaganda", 1, ("{R}委宣传部",), ("州党委宣传部", "宣传部门")),
    DeptType("politics_law", 1, ("{R}委政法委",), ("州党委政法委",), single_paragraph=0.5),
    DeptType("staffing", 1, ("{R}委编办", "{R}委机构编制委员会办公室"), ("州党委编办", "机构编制管理部门")),
    DeptType("cyberspace", 1, ("{R}委网信办",), ("州党委网信办",)),
    DeptType("organs_work", 1, ("{R}直机关工委",), ("州直机关工委",)),
    DeptType("npc", 2, ("{R}人大常委会环境与资源保护工作委员会",), ("州人大常委会环境与资源保护工作委员会",)),
    DeptType("gov_office", 3, ("{R}人民政府办公室",), ("州人民政府办公室",)),
    DeptType("ecology", 3, ("{R}生态环境局",), ("州生态环境局", "环境保护部门")),
    DeptType("development", 3, ("{R}发改委", "{R}发展和改革委员会"), ("州发改委", "发展和改革部门")),
    DeptType("education", 3, ("{R}教育局",), ("州教育局", "教育行政部门")),
    DeptType("science", 3, ("{R}科技局", "{R}科学技术局"), ("州科技局", "科技行政部门")),
    DeptType("industry", 3, ("{R}工信局", "{R}工业和信息化局"), ("州工信局", "经济和信息化部门")),
    DeptType("police", 3, ("{R}公安局",), ("州公安局", "公安部门")),
    DeptType("civil_affairs", 3, ("{R}民政局",), ("州民政局", "民政部门")),
    DeptType("justice", 3, ("{R}司法局",), ("州司法局", "司法行政部门", "政府法制部门")),
    DeptType("finance", 3, ("{R}财政局",), ("州财政局", "财政部门")),
    DeptType(
        "human_resources", 3, ("{R}人社局", "{R}人力资源和社会保障局"), ("州人社局", "人力资源和社会保障部门")
    ),
    DeptType("natural_resources", 3, ("{R}自然资源局",), ("州自然资源局", "国土资源部门")),
    DeptType("housing", 3, ("{R}住建局", "{R}住房和城乡建设局"), ("州住建局", "住房和城乡建设部门")),
    DeptType("transport", 3, ("{R}交通运输局",), ("州交通运输局", "交通运输部门")),
    DeptType("water", 3, ("{R}水利局",), ("州水利局", "水利部门")),
    DeptType("agriculture", 3, ("{R}农业农村局",), ("州农业农村局", "农牧业部门")),
    DeptType("commerce", 3, ("{R}商务局",), ("州商务局", "商务部门")),
    DeptType(
        "culture",
        3,
        ("{R}文化体育广播电视和旅游局", "{R}文化和旅游局"),
        ("州文化体育广播电视和旅游局", "文化部门", "旅游部门", "新闻出版广电部门"),
    ),
    DeptType("health", 3, ("{R}卫生健康委员会", "{R}卫生健康委"), ("州卫生健康委员会", "卫生和计划生育部门")),
    DeptType("emergency", 3, ("{R}应急管理局",), ("州应急管理局", "安全生产监督管理部门", "地震部门")),
    DeptType("audit", 3, ("{R}审计局",), ("州审计局", "审计部门")),
    DeptType(
        "state_assets",
        3,
        ("{R}国有资产监督管理委员会", "{R}国资委"),
        ("州国有资产监督管理委员会", "国有资产监督管理机构"),
    ),
    DeptType(
        "market",
        3,
        ("{R}市场监督管理局", "{R}市场监管局"),
        ("州市场监督管理局", "工商行政管理部门", "质量技术监督部门", "食品药品监督管理部门"),
    ),
    DeptType("statistics", 3, ("{R}统计局",), ("州统计局", "统计部门")),
    DeptType("government_affairs", 3, ("{R}机关事务管理局", "{R}机关事务服务中心"), ("州机关事务管理局",)),
    DeptType("petitions", 3, ("{R}信访局",), ("州信访局",)),
    DeptType("forestry", 3, ("{R}林业和草原局", "{R}林草局"), ("州林业和草原局", "林业部门")),
    DeptType("civil_defense", 3, ("{R}人民防空办公室",), ("州人民防空办公室",), single_paragraph=0.6),
    DeptType("financial_work", 3, ("{R}金融工作办公室", "{R}地方金融监督管理局"), ("州金融工作办公室",)),
    DeptType("tax", 3, ("国家税务总局{R}税务局",), ("国家税务总局昌吉州税务局", "税务部门")),
    DeptType("meteorology", 3, ("{R}气象局",), ("州气象局", "气象部门")),
    DeptType("postal", 3, ("{R}邮政管理局",), ("州邮政管理局",), county_names=("",)),
    DeptType(
        "central_bank",
        3,
        ("中国人民银行{S}{U}中心支行",),
        ("中国人民银行昌吉州中心支行",),
        county_names=("中国人民银行{R}支行",),
    ),
    DeptType(
        "bank_insurance",
        3,
        ("中国银行保险监督管理委员会{S}监管分局",),
        ("中国银行保险监督管理委员会昌吉监管分局", "保险监督管理部门"),
        county_names=("",),
    ),
    DeptType("grid", 3, ("国网{S}供电公司",), ("国网昌吉供电公司",), single_paragraph=0.5),
    DeptType(
        "court",
        4,
        ("{R}中级人民法院",),
        ("州中级人民法院", "审判机关"),
        county_names=("{R}人民法院",),
    ),
    DeptType("procuratorate", 4, ("{R}人民检察院",), ("州人民检察院", "检察机关")),
)

SECTION_TITLES = {
    1: ("{R}委有关部门生态环境保护指导监督责任清单", "{R}委有关部门生态环境保护责任清单"),
    2: ("{R}人大有关部门生态环境保护立法和监督责任清单", "{R}人大常委会有关机构生态环境保护监督责任清单"),
    3: ("{R}人民政府有关部门生态环境保护责任清单", "{R}政府有关部门生态环境保护工作责任清单"),
    4: ("{R}审判、检察机关生态环境保护司法责任清单", "{R}司法机关生态环境保护责任清单"),
}
TITLES = (
    "{R}有关部门生态环境保护责任清单",
    "{R}党政有关部门生态环境保护责任清单",
    "{R}生态环境保护工作责任清单",
    "{R}有关部门生态环境保护工作职责清单",
)
CHINESE_DIGITS = "零一二三四五六七八九"

# Interchangeable wordings, one direction chosen per document, each applied to about 80 % of the documents.
VARIANTS = (
    ("推进", "推动"),
    ("加强", "强化"),
    ("组织实施", "实施"),
    ("贯彻落实", "落实"),
    ("依法查处", "依法依规查处"),
    ("督促指导", "指导督促"),
    ("监督检查", "督促检查"),
    ("有关部门", "相关部门"),
    ("建立健全", "健全完善"),
    ("严格执行", "严格落实"),
    ("宣传教育", "宣传引导"),
    ("污染防治", "污染治理"),
    ("做好", "抓好"),
    ("开展", "组织开展"),
    ("指导", "统筹指导"),
    ("制定", "研究制定"),
    ("完善", "健全"),
    ("依法", "依法依规"),
    ("加大", "进一步加大"),
    ("环境保护", "生态环境保护"),
    ("协调", "统筹协调"),
)
# Each document draws on 35–55 % of the fragments of each kind of department (at least 4), and adds
# 0–3 pieces to an opening with these weights: ~2 fragments a duty, like the real items.
SUBSET_SHARE = (0.35, 0.55)
MIN_SUBSET = 4
EXTRA_PIECES = (30, 40, 22, 8)
# A local clause now and then names the region or its townships, as real lists do. It carries no topic
# words of its own (a clause 「…重点抓好某某饮用水水源地…」 would make any department answer for water sources).
LOCAL_CLAUSE_SHARE = 0.5
LOCAL_CLAUSES = (
    "结合{S}实际抓好落实",
    "定期向{U}委、{U}人民政府报告工作情况",
    "重点抓好{place}、{place2}等乡镇的落实",
    "指导{place}、{place2}做好相关工作",
    "加强对{place}等重点乡镇的督促指导",
)
TOWN_SUFFIXES = ("镇", "乡", "街道")

# ---------------------------------------------------------------------------------------------------------
# Regions: real provinces; invented prefectures and counties named from common place-name characters.

PROVINCES = (
    ("河北省", "河北"),
    ("山西省", "山西"),
    ("内蒙古自治区", "内蒙古"),
    ("辽宁省", "辽宁"),
    ("吉林省", "吉林"),
    ("黑龙江省", "黑龙江"),
    ("江苏省", "江苏"),
    ("浙江省", "浙江"),
    ("安徽省", "安徽"),
    ("福建省", "福建"),
    ("江西省", "江西"),
    ("山东省", "山东"),
    ("河南省", "河南"),
    ("湖北省", "湖北"),
    ("湖南省", "湖南"),
    ("广东省", "广东"),
    ("广西壮族自治区", "广西"),
    ("海南省", "海南"),
    ("四川省", "四川"),
    ("贵州省", "贵州"),
    ("云南省", "云南"),
    ("陕西省", "陕西"),
    ("甘肃省", "甘肃"),
    ("青海省", "青海"),
    ("宁夏回族自治区", "宁夏"),
    ("新疆维吾尔自治区", "新疆"),
)
NAME_FIRST = (
    "安宝北滨博昌承崇楚春淳大丹德定东丰凤奉福阜富高固广桂汉和鹤恒洪鸿华怀淮黄徽会吉嘉建剑江蛟金锦晋景靖"
    "九巨康莱兰乐黎礼丽溧连良临灵柳龙隆庐鹿罗洛马茂梅蒙汨密绵岷明南宁沛彭平萍浦普齐祁清庆泉仁荣瑞汝三沙"
    "上邵韶绍寿舒双顺泗松绥遂泰桃滕天通同铜潼万望威文武西仙襄祥新信兴修秀宣雅延阳沂宜义永攸余榆玉元岳"
    "云长昭镇正忠舟资"
)
NAME_SECOND = (
    "安宝滨城川丹德定东都丰峰阜冈高光海禾和河衡洪湖华化怀淮徽会吉嘉江津金晋靖景康兰乐黎林陵隆泸鹿罗门"
    "明南宁坪平浦祁清庆泉仁容山陕邵胜寿水顺台泰潭塘桃田亭通同桐宛威溪仙祥乡兴秀阳沂宜义邑阴源远岳云泽"
    "漳昭州洲珠庄"
)


@dataclass(frozen=True, slots=True)
class Region:
    name: str  # 安平市
    short: str  # 安平
    unit: str  # 市 / 县 / 州 / 旗
    level: str  # prefecture | county
    province: str  # 河南省
    province_short: str
    within: str  # the province, or for a county its prefecture


@dataclass(slots=True)
class DeptMaterial:
    """The real items of one kind of department, cut into fragments for recombination.

    A fragment that opened a duty or followed 。； in it can open a sentence; one that followed ， continues.
    """

    openings: list[str] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)
    continuations: list[str] = field(default_factory=list)
    items: int = 0


# ---------------------------------------------------------------------------------------------------------
# Reading the real duty lists (a small reader of our own: the product's parser is being rewritten).


def _clean(line: str) -> str:
    line = re.sub(r"\s+", "", line)
    line = line.replace("(", "（").replace(")", "）").replace(",", "，").replace(";", "；")
    return line


def real_blocks(path: Path) -> dict[str, list[str]]:
    """Department header (without 工作职责) → its duty items, from a real duty list."""
    lines = [_clean(raw) for raw in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.endswith("人民政府办公厅印发")]
    blocks: dict[str, list[str]] = {}
    header = ""
    items: list[str] = []
    current = ""
    i = 0

    def flush_item() -> None:
        nonlocal current
        if header and current:
            items.append(current)
        current = ""

    def flush_block() -> None:
        nonlocal items
        flush_item()
        if header and items:
            blocks.setdefault(header, []).extend(items)
        items = []

    while i < len(lines):
        line = lines[i]
        if _SECTION.match(line):
            flush_block()
            header = ""
            while i + 1 < len(lines) and len(lines[i + 1]) <= 12 and not _BLOCK.match(lines[i + 1]):
                i += 1  # a section title broken over two lines
        elif match := _BLOCK.match(line):
            flush_block()
            content = match.group(2)
            if len(content) <= 40 and not set("，。；：") & set(content):
                if i + 1 < len(lines) and lines[i + 1].endswith("职责") and len(lines[i + 1]) <= 12:
                    i += 1
                    content += lines[i]
                header = _HEADER_SUFFIX.sub("", content)
            else:
                header = ""
        elif header and (match := _ITEM_NUMBER.match(line)):
            flush_item()
            current = match.group(2)
        elif header:
            current += line
        i += 1
    flush_block()
    return blocks


def fragments_of(text: str) -> list[str]:
    """A duty cut at 。；，, each piece keeping its punctuation; numbering and tiny pieces dropped."""
    out = []
    for piece in _FRAGMENT.findall(text):
        piece = _LEADING_NUMBER.sub("", piece)
        core = piece.rstrip("，。；")
        if len(core) >= 4 and not core.isdigit():
            out.append(piece if piece[-1] in "，。；" else piece + "。")
    return out


def load_material(knowledge: Path = KNOWLEDGE) -> dict[str, DeptMaterial]:
    blocks: dict[str, list[str]] = {}
    for name in MATERIAL:
        for header, items in real_blocks(knowledge / "sources" / name).items():
            blocks.setdefault(header, []).extend(items)
    material: dict[str, DeptMaterial] = {}
    for dept in DEPT_TYPES:
        found = DeptMaterial()
        for source in dept.sources:
            for item in blocks.get(source, []):
                pieces = fragments_of(item)
                if not pieces:
                    continue
                found.items += 1
                found.openings.append(pieces[0])
                for before, piece in itertools.pairwise(pieces):
                    (found.continuations if before.endswith("，") else found.starts).append(piece)
                found.starts.append(pieces[0])
        if not found.items:
            raise SystemExit(f"no material for department type {dept.key} (sources {dept.sources})")
        material[dept.key] = found
    return material


# ---------------------------------------------------------------------------------------------------------
# Regions


def _forbidden_names(knowledge: Path) -> str:
    """Text a region's short name must not occur in: the real corpus, the lexicon and every eval question."""
    parts = [p.read_text(encoding="utf-8") for p in sorted((knowledge / "sources").glob("*.txt"))]
    parts += [p.read_text(encoding="utf-8") for p in sorted((knowledge / "lexicon").glob("*"))]
    for path in (ROOT / "tests/eval/questions.jsonl", ROOT.parent / "shared/eval/dev.jsonl"):
        if path.is_file():
            parts.append(path.read_text(encoding="utf-8"))
    return re.sub(r"\s+", "", "".join(parts))


def place_names(rng: random.Random, knowledge: Path) -> list[str]:
    """Invented two-character place names, none of which occurs in the real texts, lexicon or questions."""
    forbidden = _forbidden_names(knowledge)
    names = [a + b for a in NAME_FIRST for b in NAME_SECOND if a != b and a + b not in forbidden]
    rng.shuffle(names)
    return names


def make_regions(rng: random.Random, prefectures: int, counties: int, names: list[str]) -> list[Region]:
    """Invented prefectures (each in a real province) and counties (each in an invented prefecture)."""
    needed = prefectures + counties
    if needed > len(names):
        raise SystemExit(f"only {len(names)} region names available, {needed} needed")
    regions: list[Region] = []
    for short in names[:prefectures]:
        province, province_short = PROVINCES[rng.randrange(len(PROVINCES))]
        unit = "州" if rng.random() < 0.15 else "市"
        regions.append(Region(short + unit, short, unit, "prefecture", province, province_short, province))
    parents = regions[:prefectures] or [
        Region("", "", "", "prefecture", p, s, p) for p, s in PROVINCES
    ]  # counties without prefecture lists still sit in a province
    for short in names[prefectures:needed]:
        parent = parents[rng.randrange(len(parents))]
        roll = rng.random()
        unit = "市" if roll > 0.85 else "县"
        if parent.province == "内蒙古自治区" and roll < 0.5:
            unit = "旗"
        within = parent.name or parent.province
        regions.append(
            Region(short + unit, short, unit, "county", parent.province, parent.province_short, within)
        )
    return regions


# ---------------------------------------------------------------------------------------------------------
# Documents


def chinese_numeral(n: int) -> str:
    if n < 10:
        return CHINESE_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" + (CHINESE_DIGITS[ones] if ones else "")


def _place_words(region: Region) -> list[tuple[str, str]]:
    u = region.unit if region.unit != "州" else "州"
    province = region.province
    pairs = [
        ("昌吉回族自治州", region.name),
        ("昌吉州", region.name),
        ("昌吉", region.short),
        ("自治州", region.name),
        ("全州", "全" + u),
        ("州党委", u + "委"),
        ("州人民政府", u + "人民政府"),
        ("州人大", u + "人大"),
        ("州委", u + "委"),
        ("州级", u + "级"),
        ("州直", u + "直"),
        ("州政府", u + "政府"),
        ("旗县级以上", "县级以上"),
        ("旗县", "县"),
        ("苏木乡镇", "乡镇"),
        ("嘎查村", "村"),
    ]
    if not province.endswith("自治区"):
        pairs += [("自治区", province), ("全区", "全省"), ("我区", "我省")]
    return pairs


def _replacer(pairs: list[tuple[str, str]]) -> re.Pattern[str] | None:
    if not pairs:
        return None
    return re.compile("|".join(re.escape(a) for a, _ in sorted(pairs, key=lambda p: -len(p[0]))))


class DocumentWriter:
    """One synthetic duty list: its text, its manifest entry, and its duty texts (for the overlap check)."""

    def __init__(
        self,
        rng: random.Random,
        material: dict[str, DeptMaterial],
        region: Region,
        number: int,
        town_names: list[str],
    ):
        self.rng = rng
        self.material = material
        self.region = region
        self.number = number
        pairs = _place_words(region)
        for a, b in VARIANTS:
            if rng.random() < 0.8:
                old, new = (a, b) if rng.random() < 0.5 else (b, a)
                pairs += [(old, new), (new, new)]  # the new form itself is left alone (落实 → 贯彻落实)
        self.table = dict(pairs)
        self.pattern = _replacer(pairs)
        self.duties: list[str] = []
        self.subsets: dict[str, DeptMaterial] = {}
        # Townships of this region that local clauses name (invented names, none found in the real texts).
        self.places = [rng.choice(town_names) + rng.choice(TOWN_SUFFIXES) for _ in range(8)]

    def _sub(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.table[m.group(0)], text)

    def _fill(self, template: str, place: str = "", place2: str = "") -> str:
        r = self.region
        return template.format(R=r.name, S=r.short, U=r.unit, place=place, place2=place2)

    def _subset(self, dept: DeptType) -> DeptMaterial:
        """This document's share of the material of a kind of department: lists descend from different
        templates, so each draws on a different part of the real duties (all of it when there is little)."""
        if dept.key not in self.subsets:
            mat, rng = self.material[dept.key], self.rng

            def part(pool: list[str]) -> list[str]:
                keep = max(MIN_SUBSET, round(len(pool) * rng.uniform(*SUBSET_SHARE)))
                return rng.sample(pool, min(keep, len(pool)))

            self.subsets[dept.key] = DeptMaterial(
                part(mat.openings), part(mat.starts), part(mat.continuations), mat.items
            )
        return self.subsets[dept.key]

    def _pick(self, pool: list[str], used: set[str], taken: list[str]) -> str | None:
        """A fragment not yet in this duty, preferably not yet in this block."""
        fresh = [p for p in pool if p not in taken]
        if not fresh:
            return None
        for _ in range(4):
            piece = self.rng.choice(fresh)
            if piece not in used:
                break
        used.add(piece)
        return piece

    def duty(self, dept: DeptType, used: set[str]) -> str:
        """A duty text: an opening of a real duty of this kind of department and 0–3 more pieces, each
        sentence-opening piece after 。； and continuing piece after ，; fragments already used in the same
        block are avoided while others remain; now and then a local clause naming a place of the region."""
        mat = self._subset(dept)
        rng = self.rng
        text = ""
        for _ in range(8):  # a few tries to avoid repeating a duty already written in this document
            pieces = [self._pick(mat.openings, used, []) or mat.openings[0]]
            extra = rng.choices((0, 1, 2, 3), weights=EXTRA_PIECES)[0]
            for _ in range(extra):
                pool = mat.continuations if pieces[-1].endswith("，") and mat.continuations else mat.starts
                piece = self._pick(pool, used, pieces)
                if piece is None:
                    break
                pieces.append(piece)
            while len(pieces) > 1 and sum(map(len, pieces)) > 150:
                pieces.pop()
            text = self._sub("".join(pieces)).rstrip("，；。")
            if rng.random() < LOCAL_CLAUSE_SHARE:
                towns = rng.sample(self.places, 2)
                text += "，" + self._fill(rng.choice(LOCAL_CLAUSES), towns[0], towns[1])
            text += "。"
            if text not in self.duties:
                break
        self.duties.append(text)
        return text

    def text_and_entry(self, target_duties: int) -> tuple[str, dict[str, object], int]:
        r, rng = self.region, self.rng
        county = r.level == "county"
        depts: list[tuple[DeptType, str]] = []
        for dept in DEPT_TYPES:
            names = (dept.county_names or dept.names) if county else dept.names
            name = rng.choice(names)
            if not name or rng.random() < 0.08:  # not every list names every body
                continue
            depts.append((dept, self._fill(name)))
        weights = [min(self.material[d.key].items, 12) + rng.random() * 3 for d, _ in depts]
        scale = target_duties / sum(weights)
        counts = [
            max(1, min(round(self.material[d.key].items * 1.5) + 1, round(w * scale * rng.uniform(0.7, 1.3))))
            for (d, _), w in zip(depts, weights, strict=True)
        ]

        year = rng.randint(2019, 2023)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        date = f"{year}-{month:02d}-{day:02d}"
        doc_number = f"{r.short[0]}{r.unit}党办字〔{year}〕{rng.randint(3, 60)}号"
        title = self._fill(rng.choice(TITLES))
        issuer_party = f"中共{r.name}委员会办公室"
        issuer_gov = f"{r.name}人民政府办公室"
        lower = "各乡镇（街道）党（工）委、人民政府（办事处）" if county else "各县市（区）党委、人民政府"
        lines = [
            "中国共产党",
            "",
            f"{r.name}委员会办公室",
            "",
            doc_number,
            "",
            f"{issuer_party} {issuer_gov} 关于印发《{title}》的通知",
            "",
            f"{lower}，{r.name}委各部、委、办、局，{r.name}各委、办、局，各人民团体：",
            "",
            f"《{title}》已经{r.unit}委、{r.unit}人民政府研究同意，现印发给你们，请结合实际认真贯彻落实。",
            "",
            issuer_party,
            issuer_gov,
            f"{year}年{month}月{day}日",
            "",
            title,
            "",
            f"为进一步加强生态环境保护工作，落实生态环境保护责任，根据{r.province}有关部门生态环境保护责任清单和"
            f"生态环境保护相关法律法规，结合{r.name}实际，现将{r.name}有关部门生态环境保护责任清单明确如下。",
            "",
        ]
        section = 0
        block = 0
        clauses = 0
        for (dept, name), count in zip(depts, counts, strict=True):
            used: set[str] = set()
            if dept.section != section:
                section = dept.section
                heading = self._fill(rng.choice(SECTION_TITLES[section]))
                lines += [f"{chinese_numeral(_section_number(depts, section))}、{heading}", ""]
            block += 1
            lines += [f"（{chinese_numeral(block)}）{name}", ""]
            if rng.random() < dept.single_paragraph:
                lines += ["".join(self.duty(dept, used) for _ in range(min(count, 2))), ""]
                clauses += 1
                continue
            for n in range(1, count + 1):
                lines += [f"{n}.{self.duty(dept, used)}", ""]
            clauses += count
        lines += ["本文自印发之日起执行。", ""]
        entry: dict[str, object] = {
            "id": f"syn-{self.number:05d}",
            "file": f"syn-{self.number:05d}.txt",
            "title": title,
            "issuer": f"{issuer_party}、{issuer_gov}",
            "date": date,
            "doc_number": doc_number,
            "region": r.name,
            "level": r.level,
            "kind": "duty_list",
            "general_subject": lower.replace("（街道）", "").replace("（办事处）", ""),
            "inferred": ["title", "issuer", "date", "doc_number"],
            "notes": "Synthetic: generated by bench/synthetic.py for the scale benchmark; not a real document.",
            "page_headers": [],
        }
        return "\n".join(lines), entry, clauses


def _section_number(depts: list[tuple[DeptType, str]], section: int) -> int:
    """Sections are numbered in order of appearance (a list without a 人大 block has three or four)."""
    present = sorted({d.section for d, _ in depts})
    return present.index(section) + 1


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _toml_entry(entry: dict[str, object]) -> str:
    return "\n[[document]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in entry.items())


def _regions_toml(regions: list[Region], known: set[str]) -> str:
    out = ["\n# ---- Synthetic regions appended by bench/synthetic.py (not real places) ----\n"]
    for province, short in PROVINCES:
        if province not in known and any(r.province == province for r in regions):
            out.append(f'\n[[region]]\nname = "{province}"\naliases = ["{province}", "{short}"]\n')
    for r in regions:
        out.append(f'\n[[region]]\nname = "{r.name}"\naliases = ["{r.name}"]\nwithin = "{r.within}"\n')
    return "".join(out)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = 1
    if text.endswith("k"):
        factor, text = 1000, text[:-1]
    elif text.endswith("m"):
        factor, text = 1_000_000, text[:-1]
    return int(float(text) * factor)


def stamp_for(clauses: int, seed: int, plain_lexicon: bool, knowledge: Path = KNOWLEDGE) -> dict[str, object]:
    """What a generated corpus depends on: reuse it only when all of this is the same."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(
        [knowledge / "manifest.toml", *knowledge.glob("sources/*"), *knowledge.glob("lexicon/*")]
    ):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return {
        "clauses": clauses,
        "seed": seed,
        "plain_lexicon": plain_lexicon,
        "generator": GENERATOR_VERSION,
        "inputs": digest.hexdigest(),
    }


def is_current(out: Path, stamp: dict[str, object]) -> bool:
    path = out / "synthetic.json"
    if not path.is_file():
        return False
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    return saved.get("stamp") == stamp


def generate(
    clauses: int, out: Path, seed: int = 1, *, plain_lexicon: bool = False, knowledge: Path = KNOWLEDGE
) -> dict[str, object]:
    """Write the corpus and return its summary (also saved as OUT/synthetic.json)."""
    rng = random.Random(seed)
    material = load_material(knowledge)
    wanted = max(clauses - REAL_CLAUSES, 0)
    prefecture_size, county_size = 260, 300
    prefectures = min(300, -(-wanted // prefecture_size))
    counties = max(0, -(-(wanted - prefectures * prefecture_size) // county_size))
    # A few spare regions in case lists come out short of the target.
    names = place_names(rng, knowledge)
    regions = make_regions(rng, prefectures, counties + counties // 4 + 20, names)
    town_names = names[len(regions) :] or names  # townships never share a region's name

    if out.exists():
        shutil.rmtree(out)
    (out / "sources").mkdir(parents=True)
    shutil.copytree(knowledge / "lexicon", out / "lexicon")
    real_manifest = (knowledge / "manifest.toml").read_text(encoding="utf-8")
    real = tomllib.loads(real_manifest)["document"]
    for entry in real:
        shutil.copy2(knowledge / "sources" / entry["file"], out / "sources" / entry["file"])

    manifest = [real_manifest.rstrip("\n") + "\n\n# ---- Synthetic duty lists (bench/synthetic.py) ----\n"]
    total = 0
    used: list[Region] = []
    samples: dict[str, list[str]] = {}
    for number, region in enumerate(regions, start=1):
        if total >= wanted:
            break
        size = prefecture_size if region.level == "prefecture" else county_size
        target = min(round(size * rng.uniform(0.8, 1.2)), wanted - total)
        writer = DocumentWriter(rng, material, region, number, town_names)
        text, entry, count = writer.text_and_entry(max(target, 40))
        (out / "sources" / str(entry["file"])).write_text(text, encoding="utf-8")
        manifest.append(_toml_entry(entry))
        total += count
        used.append(region)
        samples[str(entry["id"])] = writer.duties
    (out / "manifest.toml").write_text("".join(manifest), encoding="utf-8")
    if not plain_lexicon:
        known = {
            r["name"]
            for r in tomllib.loads((knowledge / "lexicon/regions.toml").read_text("utf-8"))["region"]
        }
        with (out / "lexicon" / "regions.toml").open("a", encoding="utf-8") as f:
            f.write(_regions_toml(used, known))
    summary: dict[str, object] = {
        "stamp": stamp_for(clauses, seed, plain_lexicon, knowledge),
        "documents": len(used),
        "prefecture_lists": sum(r.level == "prefecture" for r in used),
        "county_lists": sum(r.level == "county" for r in used),
        "synthetic_duties": total,
        "expected_clauses": total + REAL_CLAUSES,
        "regions": [{"name": r.name, "level": r.level, "province": r.province} for r in used],
    }
    (out / "synthetic.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


# ---------------------------------------------------------------------------------------------------------
# Near-duplicate check (the build's rule: 8-character shingle containment ≥ 0.6 sets a copy aside)


def body_text(path: Path) -> str:
    """The indexed part of a duty list, roughly as the build sees it: every line after the first section,
    without section and block headings or item numbers, whitespace removed."""
    parts = []
    seen_section = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = _clean(raw)
        if not line:
            continue
        if _SECTION.match(line):
            seen_section = True
            continue
        if not seen_section or line.startswith("本文自"):
            continue
        match = _BLOCK.match(line)
        if match and len(match.group(2)) <= 40 and not set("，。；：") & set(match.group(2)):
            continue
        number = _ITEM_NUMBER.match(line)
        parts.append(number.group(2) if number else line)
    return "".join(parts)


def shingles(text: str) -> set[str]:
    return {text[i : i + SHINGLE] for i in range(max(len(text) - SHINGLE + 1, 1))}


def containment(a: set[str], b: set[str]) -> float:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small) if small else 0.0


def check_near_duplicates(out: Path, pairs: int = 200, seed: int = 7) -> dict[str, float | int]:
    """Containment over random pairs of synthetic documents, and of every synthetic document against the
    real duty lists 000 and 003; the build sets a copy aside at 0.6."""
    rng = random.Random(seed)
    synthetic = sorted((out / "sources").glob("syn-*.txt"))
    real = {name: shingles(body_text(out / "sources" / name)) for name in MATERIAL}
    cache: dict[Path, set[str]] = {}

    def of(path: Path) -> set[str]:
        if path not in cache:
            if len(cache) > 400:
                cache.clear()
            cache[path] = shingles(body_text(path))
        return cache[path]

    between: list[float] = []
    against_real: list[float] = []
    if len(synthetic) >= 2:
        for _ in range(pairs):
            a, b = rng.sample(synthetic, 2)
            between.append(containment(of(a), of(b)))
    for path in synthetic:  # every list against the real ones: linear, ~15 ms a list
        against_real.extend(containment(of(path), s) for s in real.values())
    return {
        "pairs": len(between),
        "max_between": max(between, default=0.0),
        "mean_between": sum(between) / len(between) if between else 0.0,
        "checked_against_real": len(against_real) // len(real),
        "max_against_real": max(against_real, default=0.0),
        "mean_against_real": sum(against_real) / len(against_real) if against_real else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clauses", required=True, help="total clauses to aim at: 10k, 100k, 1m or a number")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plain-lexicon", action="store_true", help="do not append the invented regions")
    parser.add_argument("--check", type=int, default=200, metavar="PAIRS", help="pairs for the overlap check")
    args = parser.parse_args(argv)
    summary = generate(parse_size(args.clauses), args.out, args.seed, plain_lexicon=args.plain_lexicon)
    print(
        f"wrote {args.out}: {summary['documents']} synthetic lists "
        f"({summary['prefecture_lists']} prefecture, {summary['county_lists']} county), "
        f"{summary['synthetic_duties']} duties + the 5 real documents"
    )
    if args.check:
        report = check_near_duplicates(args.out, args.check)
        print(json.dumps(report))
        saved = json.loads((args.out / "synthetic.json").read_text(encoding="utf-8"))
        saved["overlap"] = report
        (args.out / "synthetic.json").write_text(json.dumps(saved, ensure_ascii=False, indent=1), "utf-8")
        if report["max_between"] >= 0.45 or report["max_against_real"] >= 0.45:
            print("WARNING: some documents come close to the near-duplicate threshold (0.6)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
