"""Turn a 办事指南 catalogue into answer-bank entries.

A guide record (the shape of the Guangdong 政务服务网 export: 事项名称,
实施部门, 办理地点, 承诺时限, 材料 …) answers four aspects of its item: what
to bring, where to go, how long it takes, and whether it can be done online.
Each becomes one entry with a short speakable ``answer`` and the full text in
``answer_detail``. Records that cannot make a valid entry are skipped with a
reason, never half-imported.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .domains import DOMAIN_BY_NAME
from .schema import ANSWER_MAX_CHARS, QUESTION_MAX_CHARS, Entry, Problem, validate_entry

# Theme categories of the catalogue → bank domain. Checked in order; the
# department name is the fallback.
_THEME_TO_DOMAIN: tuple[tuple[str, str], ...] = (
    ("社会保险", "社会保险"),
    ("退休", "社会保险"),
    ("社会救助", "民政与社会救助"),
    ("婚姻登记", "民政与社会救助"),
    ("结婚", "民政与社会救助"),
    ("残疾人", "民政与社会救助"),
    ("户籍办理", "户籍与身份证"),
    ("证件办理", "户籍与身份证"),
    ("纳税", "税务"),
    ("出境入境", "出入境"),
    ("港澳台侨", "出入境"),
    ("外国人", "出入境"),
    ("就业创业", "就业创业与人才"),
    ("找工作", "就业创业与人才"),
    ("创业", "就业创业与人才"),
    ("人才", "就业创业与人才"),
    ("高校毕业生", "就业创业与人才"),
    ("职业资格", "就业创业与人才"),
    ("医疗卫生", "卫生健康与生育"),
    ("生小孩", "卫生健康与生育"),
    ("生育收养", "卫生健康与生育"),
    ("教育科研", "教育入学"),
    ("升学", "教育入学"),
    ("交通出行", "交通管理"),
    ("规划建设", "住房与城乡建设"),
    ("公用事业", "住房与城乡建设"),
    ("司法公证", "法律服务与公证"),
    ("设立变更", "市场主体登记"),
    ("准营准办", "市场主体登记"),
    ("抵押质押", "不动产登记"),
)
_DEPARTMENT_TO_DOMAIN: tuple[tuple[str, str], ...] = (
    ("医疗保障", "医疗保障"),
    ("公积金", "住房公积金"),
    ("不动产", "不动产登记"),
    ("自然资源", "不动产登记"),
    ("税务", "税务"),
    ("出入境", "出入境"),
    ("交通警察", "交通管理"),
    ("公安", "户籍与身份证"),
    ("市场监督", "市场主体登记"),
    ("人力资源", "就业创业与人才"),
    ("民政", "民政与社会救助"),
    ("教育", "教育入学"),
    ("卫生健康", "卫生健康与生育"),
    ("住房和城乡建设", "住房与城乡建设"),
    ("司法", "法律服务与公证"),
)
FALLBACK_DOMAIN = "政务服务综合"

# Aspect → short code used in the stable entry id.
ASPECT_CODES = {"所需材料": "cl", "办理地点": "dd", "办理时限": "sx", "线上办理": "xs"}

_EMPTY = {"", "无", "null", "None", "暂无", "/"}


@dataclass
class GuideImport:
    entries: list[Entry] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    records: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "entries": len(self.entries),
            "by_aspect": dict(Counter(e.aspect for e in self.entries)),
            "by_domain": dict(Counter(e.domain for e in self.entries)),
            "skipped": len(self.skipped),
        }


def read_catalogue(path: Path) -> list[dict[str, Any]]:
    """Records of a catalogue file: JSON Lines (one record a line) or a JSON array."""
    text = Path(path).read_text(encoding="utf-8-sig").strip()
    if text.startswith("["):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON array of records")
        return data
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {lineno}: invalid JSON: {exc.msg}") from exc
    return records


def _text(record: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip() not in _EMPTY:
            return value.strip()
    return ""


def domain_for(record: dict[str, Any]) -> str:
    themes = record.get("theme_category") or []
    if isinstance(themes, str):
        themes = [themes]
    for theme in themes:
        for key, domain in _THEME_TO_DOMAIN:
            if key in theme:
                return domain
    dept = _text(record, "DEPT_NAME", "实施部门")
    for key, domain in _DEPARTMENT_TO_DOMAIN:
        if key in dept:
            return domain
    return FALLBACK_DOMAIN


def _spoken(text: str) -> str:
    """Make catalogue text readable aloud: ranges, slashes and long digit runs."""
    t = re.sub(r"\s+", "", text)
    t = re.sub(r"(\d)\s*[-~～—–]\s*(\d)", r"\1到\2", t)
    t = t.replace("/", "或")
    t = re.sub(r"https?://\S+|www\.\S+", "", t)
    # Long digit runs (phone numbers) are read digit by digit.
    digits = "零一二三四五六七八九"
    t = re.sub(r"\d{5,}", lambda m: "".join(digits[int(c)] for c in m.group()), t)
    return t


def _clip(text: str, limit: int) -> str:
    """Cut at a sentence or list boundary that fits, else hard-cut with 等."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for sep in ("。", "；", "、", "，"):
        pos = cut.rfind(sep)
        if pos >= limit // 2:
            return cut[:pos] + "等。"
    return cut[: limit - 2] + "等。"


def _working_days(value: str) -> str | None:
    m = re.match(r"^\s*(\d+)\s*[（(]\s*工作日\s*[)）]", value)
    return m.group(1) if m else None


def _answers_for(record: dict[str, Any], name: str) -> dict[str, tuple[str, str, str, list[str]]]:
    """aspect → (question, answer, detail, similar questions) for what the record can answer."""
    out: dict[str, tuple[str, str, str, list[str]]] = {}
    materials = [m.strip() for m in (record.get("material_intro") or record.get("材料") or []) if isinstance(m, str) and m.strip()]
    if materials:
        listed = "、".join(_spoken(m) for m in materials)
        answer = _clip(f"办理{name}需要准备{len(materials)}项材料：{listed}。", ANSWER_MAX_CHARS)
        detail = "；".join(f"{i}. {m}" for i, m in enumerate(materials, start=1))
        out["所需材料"] = (f"办理{name}需要什么材料？", answer, detail, [f"{name}要带啥材料", f"{name}需要准备哪些东西"])

    location = re.sub(r"^办理地点[:：]\s*", "", _text(record, "handle_location", "办理地点"))
    if location:
        answer = _clip(f"{name}的办理地点是{_spoken(location)}。", ANSWER_MAX_CHARS)
        out["办理地点"] = (f"{name}在哪里办理？", answer, location, [f"{name}去哪办", f"{name}在哪个窗口办"])

    promised = _text(record, "handle_time_limit", "承诺时限")
    legal = _text(record, "handle_time", "法定时限")
    promised_days, legal_days = _working_days(promised), _working_days(legal)
    if promised_days or legal_days:
        parts = []
        if promised_days:
            parts.append(f"承诺{promised_days}个工作日内办结")
        if legal_days:
            parts.append(f"法定时限为{legal_days}个工作日")
        answer = f"{name}{'，'.join(parts)}。"
        out["办理时限"] = (f"{name}多长时间能办好？", answer, f"承诺时限：{promised or '无'}；法定时限：{legal or '无'}", [f"{name}要多久", f"{name}几天能办下来"])

    platform = _text(record, "bear_paltform", "办理平台")
    online = _text(record, "online_book", "网上预约")
    visits = _text(record, "visit_number", "到现场次数")
    if platform or visits:
        if visits == "0":
            answer = f"{name}可以全程网上办理，不用跑现场"
        elif visits:
            answer = f"{name}需要到现场{visits}次"
        else:
            answer = f"{name}可以在网上申请"
        if platform:
            answer += f"，办理平台是{_spoken(platform)}"
        if online == "是":
            answer += "，也支持网上预约"
        answer = _clip(answer + "。", ANSWER_MAX_CHARS)
        detail = f"办理平台：{platform or '无'}；到现场次数：{visits or '未说明'}；网上预约：{online or '未说明'}"
        out["线上办理"] = (f"{name}可以网上办理吗？", answer, detail, [f"{name}能不能网上办", f"{name}要不要跑现场"])
    return out


def entries_from_guides(records: list[dict[str, Any]], *, source_label: str, today: dt.date | None = None) -> GuideImport:
    today = today or dt.date.today()
    result = GuideImport(records=len(records))
    # Provincial and city records often share an item name; the area keeps
    # their questions apart.
    name_counts = Counter(_text(r, "matter_name", "TASK_NAME", "事项名称") for r in records)
    used_questions: set[str] = set()
    for index, record in enumerate(records, start=1):
        where = f"{source_label} record {index}"
        if not isinstance(record, dict):
            result.skipped.append(Problem(where, "", "not a JSON object"))
            continue
        name = _text(record, "matter_name", "TASK_NAME", "事项名称")
        code = _text(record, "TASK_CODE", "事项编码")
        if not name or not code:
            result.skipped.append(Problem(where, "事项名称" if not name else "TASK_CODE", "missing; record skipped"))
            continue
        area = _text(record, "AREA_CODE_TEXT", "地区")
        if name_counts[name] > 1 and area and not name.startswith(area):
            name = f"{area}{name}"
        department = _text(record, "DEPT_NAME", "实施部门") or DOMAIN_BY_NAME[domain_for(record)].department
        domain = domain_for(record)
        complexity = "complex" if int(_working_days(_text(record, "handle_time_limit", "承诺时限")) or 0) > 5 else "ordinary"
        for aspect, (question, answer, detail, similar) in _answers_for(record, name).items():
            if len(question) > QUESTION_MAX_CHARS:
                result.skipped.append(Problem(where, "事项名称", f"item name too long for a question ({len(name)} characters)"))
                break
            if question in used_questions:
                result.skipped.append(Problem(where, "事项名称", f"question {question!r} already produced by an earlier record"))
                continue
            data = {
                "id": f"guide-{code}-{ASPECT_CODES[aspect]}",
                "domain": domain,
                "item": name,
                "aspect": aspect,
                "question": question,
                "similar_questions": similar,
                "answer": _clip(_spoken(answer), ANSWER_MAX_CHARS),
                "answer_detail": detail[:2000],
                "department": department[:40],
                "complexity": complexity,
                "source": f"{area}政务服务网办事指南（事项编码{code}）"[:200],
                "updated_at": today,
                "valid_until": None,
                # Addresses, platforms and time limits are the issuing area's own.
                "city_specific": True,
            }
            entry, problems = validate_entry(data, where)
            if entry is None:
                result.skipped.extend(problems)
                continue
            used_questions.add(question)
            result.entries.append(entry)
    return result

