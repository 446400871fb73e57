"""Import and export of the answer bank as CSV, XLSX or JSONL.

All three formats carry the same columns. Staff spreadsheets may use Chinese
headers (问题, 答案, 相似问法 …); :data:`HEADER_ALIASES` maps them. Import is
all-or-nothing: every row is checked, and the bank-wide rules are checked on
the merged result, before anything is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.spreadsheet import neutralise, restore

from .domains import DOMAIN_BY_NAME
from .schema import Entry, Problem, stable_id_for, validate_entry
from .store import read_jsonl_objects

FORMATS = ("csv", "xlsx", "jsonl")

# Export column order; also the canonical names accepted on import.
COLUMNS: tuple[str, ...] = (
    "id",
    "domain",
    "item",
    "aspect",
    "question",
    "similar_questions",
    "answer",
    "answer_detail",
    "department",
    "complexity",
    "source",
    "updated_at",
    "valid_until",
    "city_specific",
)
REQUIRED_COLUMNS = frozenset({"domain", "item", "aspect", "question", "similar_questions", "answer", "department", "source"})

HEADER_ALIASES: dict[str, str] = {
    "编号": "id",
    "领域": "domain",
    "事项": "item",
    "事项名称": "item",
    "方面": "aspect",
    "问题类型": "aspect",
    "问题": "question",
    "标准问题": "question",
    "标准问": "question",
    "相似问法": "similar_questions",
    "相似问题": "similar_questions",
    "相似问": "similar_questions",
    "答案": "answer",
    "口播答案": "answer",
    "详细答案": "answer_detail",
    "答案详情": "answer_detail",
    "部门": "department",
    "责任部门": "department",
    "承办部门": "department",
    "复杂度": "complexity",
    "依据": "source",
    "来源": "source",
    "政策依据": "source",
    "更新日期": "updated_at",
    "更新时间": "updated_at",
    "有效期至": "valid_until",
    "失效日期": "valid_until",
    "本地信息": "city_specific",
    "城市特定": "city_specific",
}

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}


class ImportFormatError(ValueError):
    """The file cannot be read as a bank file at all (wrong extension, corrupt)."""


@dataclass
class Row:
    number: int  # spreadsheet row (header is row 1) or JSONL line number
    values: dict[str, Any]


def detect_format(path: Path, explicit: str | None = None) -> str:
    fmt = (explicit or Path(path).suffix.lstrip(".")).lower()
    if fmt == "json":
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise ImportFormatError(f"{path}: cannot tell the format from the name; use --format {'|'.join(FORMATS)}")
    return fmt


def _canonical_header(name: Any) -> str:
    text = str(name).strip().lstrip("\ufeff") if name is not None else ""
    return HEADER_ALIASES.get(text, text.lower() if text.isascii() else text)


def _header_problems(path: Path, headers: list[str], raw: list[Any]) -> list[Problem]:
    problems = []
    where = f"{path} row 1"
    for canon, original in zip(headers, raw):
        if canon not in COLUMNS:
            problems.append(Problem(where, str(original), "unknown column; expected one of " + ", ".join(COLUMNS)))
    dupes = {h for h in headers if headers.count(h) > 1 and h}
    for h in sorted(dupes):
        problems.append(Problem(where, h, "column appears more than once"))
    for missing in sorted(REQUIRED_COLUMNS - set(headers)):
        problems.append(Problem(where, missing, "required column is missing"))
    return problems


def _read_csv(path: Path) -> tuple[list[Row], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the CSV as UTF-8") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        raw_headers = next(reader)
    except StopIteration:
        return [], [Problem(f"{path} row 1", "", "file is empty: no header row")]
    headers = [_canonical_header(h) for h in raw_headers]
    problems = _header_problems(path, headers, raw_headers)
    rows = []
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(headers):
            problems.append(Problem(f"{path} row {number}", "", f"has {len(record)} cells, header has {len(headers)}"))
            continue
        rows.append(Row(number, dict(zip(headers, record))))
    return rows, problems


def _read_xlsx(path: Path) -> tuple[list[Row], list[Problem]]:
    import openpyxl  # only needed for spreadsheets
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFormatError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise ImportFormatError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from exc
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        try:
            raw_headers = list(next(it))
        except StopIteration:
            return [], [Problem(f"{path} row 1", "", "sheet is empty: no header row")]
        while raw_headers and raw_headers[-1] is None:
            raw_headers.pop()
        headers = [_canonical_header(h) for h in raw_headers]
        problems = _header_problems(path, headers, raw_headers)
        rows = []
        for number, record in enumerate(it, start=2):
            cells = list(record)[: len(headers)]
            extra = [c for c in list(record)[len(headers) :] if c not in (None, "")]
            if all(c in (None, "") for c in cells) and not extra:
                continue
            if extra:
                problems.append(Problem(f"{path} row {number}", "", "has values to the right of the last header"))
                continue
            cells += [None] * (len(headers) - len(cells))
            rows.append(Row(number, dict(zip(headers, cells))))
        return rows, problems
    finally:
        wb.close()


def _read_jsonl(path: Path) -> tuple[list[Row], list[Problem]]:
    try:
        objects, problems = read_jsonl_objects(path, unit="row")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    rows: list[Row] = []
    for number, where, data in objects:
        values = {}
        for key, value in data.items():
            canon = _canonical_header(key)
            if canon not in COLUMNS:
                problems.append(Problem(where, str(key), "unknown column; expected one of " + ", ".join(COLUMNS)))
            values[canon] = value
        for missing in sorted(REQUIRED_COLUMNS - set(values)):
            problems.append(Problem(where, missing, "required column is missing"))
        rows.append(Row(number, values))
    return rows, problems


def read_rows(path: Path, fmt: str) -> tuple[list[Row], list[Problem]]:
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    return {"csv": _read_csv, "xlsx": _read_xlsx, "jsonl": _read_jsonl}[fmt](path)


# -- cell coercion -----------------------------------------------------------
def _split_similar(value: Any) -> Any:
    """Similar questions: a JSON list, or one per line, or separated by | or ；."""
    if isinstance(value, list) or value is None:
        return value or []
    text = str(value).strip()
    if text.startswith("'") and "\n" not in text:
        text = restore(text)
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return text  # schema reports "not a list"
        return parsed
    for sep in ("\n", "|", "；", ";"):
        if sep in text:
            return [restore(part.strip()) for part in text.split(sep) if part.strip()]
    return [restore(text)] if text else []


def _as_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _as_bool(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return value  # schema reports it


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return restore(value) if isinstance(value, str) else str(value)


def row_to_entry(row: Row, where: str, today: dt.date) -> tuple[Entry | None, list[Problem]]:
    v = dict(row.values)
    data: dict[str, Any] = {}
    for key in ("domain", "item", "aspect", "question", "answer", "answer_detail", "department", "complexity", "source"):
        if key in v:
            data[key] = _cell_text(v[key])
    if not data.get("complexity"):
        data["complexity"] = "ordinary"
    data["similar_questions"] = _split_similar(v.get("similar_questions"))
    data["updated_at"] = _as_date(v.get("updated_at")) or today
    data["valid_until"] = _as_date(v.get("valid_until"))
    data["city_specific"] = _as_bool(v.get("city_specific"))
    entry_id = _cell_text(v.get("id")).strip()
    if not entry_id:
        # Spreadsheets from staff often have no id column: derive a stable one.
        domain = DOMAIN_BY_NAME.get(str(data.get("domain", "")).strip())
        if domain is not None and data.get("question"):
            entry_id = stable_id_for(domain.slug, str(data["question"]))
        else:
            entry_id = "unassigned"  # domain/question problems are reported below
    data["id"] = entry_id
    return validate_entry(data, where)


def entries_from_file(path: Path, fmt: str | None = None, today: dt.date | None = None) -> tuple[list[Entry], list[Problem]]:
    """Parse and validate every row of ``path``; report every problem found."""
    fmt = detect_format(path, fmt)
    today = today or dt.date.today()
    rows, problems = read_rows(path, fmt)
    entries = []
    seen: dict[str, int] = {}
    for row in rows:
        where = f"{path} row {row.number}"
        entry, errs = row_to_entry(row, where, today)
        problems.extend(errs)
        if entry is None:
            continue
        if entry.id in seen:
            problems.append(Problem(where, "id", f"id {entry.id!r} already used in row {seen[entry.id]}"))
            continue
        seen[entry.id] = row.number
        entries.append(entry)
    if not rows and not problems:
        problems.append(Problem(str(path), "", "file has no entries"))
    return entries, problems


# -- export --------------------------------------------------------------------
def _export_record(entry: Entry) -> dict[str, str]:
    """Flat text cells; similar questions one per line (questions hold no line breaks)."""
    d = entry.model_dump(mode="json")
    record = {
        **{k: d[k] for k in ("id", "domain", "item", "aspect", "question", "answer", "answer_detail", "department", "complexity", "source", "updated_at")},
        # Each phrasing, not only the cell's first line: an editor may reorder the lines.
        "similar_questions": "\n".join(neutralise(q) for q in entry.similar_questions),
        "valid_until": d["valid_until"] or "",
        "city_specific": "true" if entry.city_specific else "false",
    }
    return {k: neutralise(v) for k, v in record.items()}


def iter_jsonl(entries: list[Entry]) -> Iterator[str]:
    for e in entries:
        yield json.dumps(e.model_dump(mode="json"), ensure_ascii=False) + "\n"


def export_entries(entries: list[Entry], fmt: str, out: Path | None) -> bytes | None:
    """Write ``entries`` to ``out`` (or return the bytes when ``out`` is None)."""
    if fmt == "jsonl":
        data = "".join(iter_jsonl(entries)).encode("utf-8")
    elif fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\r\n")
        writer.writeheader()
        for e in entries:
            writer.writerow(_export_record(e))
        # The BOM makes Excel open the file as UTF-8, as Chinese staff expect.
        data = ("\ufeff" + buf.getvalue()).encode("utf-8")
    elif fmt == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "answer_bank"
        ws.append(list(COLUMNS))
        for row_number, e in enumerate(entries, start=2):
            rec = _export_record(e)
            for col_number, column in enumerate(COLUMNS, start=1):
                cell = ws.cell(row=row_number, column=col_number, value=rec[column])
                # Text cells, always: Excel must not turn ids into numbers or
                # run a question that starts with '=' as a formula.
                cell.data_type = "s"
                cell.number_format = "@"
        ws.freeze_panes = "A2"
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    else:
        raise ValueError(f"unknown format {fmt!r}")
    if out is None:
        return data
    Path(out).write_bytes(data)
    return None
