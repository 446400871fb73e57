"""`govlive kb import` / `kb export`: every error path, and lossless round trips."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from assistant.bank.store import AnswerBank
from assistant.bank.tabular import COLUMNS, entries_from_file, export_entries
from assistant.cli import cli

BUNDLED = Path(__file__).resolve().parents[1] / "corpus" / "bank"


def run(*args: str, bank: Path) -> Result:
    return CliRunner().invoke(cli, ["--bank", str(bank), *args], catch_exceptions=False)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.jsonl"))}


GOOD_ROW = {
    "问题": "办理居住证需要什么材料？",
    "相似问法": "居住证要带啥\n办居住证需要准备啥",
    "答案": "需要本人居民身份证、近期照片和居住证明，到居住地派出所申领。",
    "领域": "户籍与身份证",
    "事项": "居住证申领",
    "方面": "所需材料",
    "部门": "市公安局户政管理支队",
    "依据": "《居住证暂行条例》",
}


def write_csv(path: Path, rows: list[dict], headers: list[str] | None = None) -> Path:
    headers = headers or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=headers)
        w.writeheader()
        w.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    headers = list(rows[0])
    ws.append(headers)
    for r in rows:
        ws.append([r.get(h) for h in headers])
    wb.save(path)
    return path


# -- good imports -------------------------------------------------------------------
def test_import_csv_with_chinese_headers_adds_entry(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "new.csv", [GOOD_ROW])
    result = run("kb", "import", str(f), bank=small_bank_dir)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["added"] == 1 and summary["entries"] == 13
    bank = AnswerBank.load(small_bank_dir)
    added = [e for e in bank.entries if e.question == GOOD_ROW["问题"]]
    assert len(added) == 1
    e = added[0]
    assert e.id.startswith("huji-q") and e.similar_questions == ["居住证要带啥", "办居住证需要准备啥"]
    assert e.complexity == "ordinary" and e.city_specific is False


def test_import_without_id_gives_the_same_id_again(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "new.csv", [GOOD_ROW])
    run("kb", "import", str(f), bank=small_bank_dir)
    first = {e.id for e in AnswerBank.load(small_bank_dir).entries}
    result = run("kb", "import", str(f), bank=small_bank_dir)
    summary = json.loads(result.output)
    assert summary["added"] == 0 and summary["entries"] == 13
    assert {e.id for e in AnswerBank.load(small_bank_dir).entries} == first


def test_import_xlsx_with_chinese_headers(small_bank_dir, tmp_path):
    f = write_xlsx(tmp_path / "new.xlsx", [{**GOOD_ROW, "复杂度": "复杂", "本地信息": "是"}])
    result = run("kb", "import", str(f), bank=small_bank_dir)
    assert result.exit_code == 0, result.output
    e = next(e for e in AnswerBank.load(small_bank_dir).entries if e.question == GOOD_ROW["问题"])
    assert e.complexity == "complex" and e.city_specific is True


def test_import_updates_an_entry_by_id(small_bank_dir, tmp_path):
    bank = AnswerBank.load(small_bank_dir)
    target = bank.entries[0]
    changed = {**target.model_dump(mode="json"), "answer": "已更新的答案。"}
    f = tmp_path / "update.jsonl"
    f.write_text(json.dumps(changed, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = json.loads(run("kb", "import", str(f), bank=small_bank_dir).output)
    assert summary["updated"] == 1 and summary["added"] == 0
    assert AnswerBank.load(small_bank_dir).get(target.id).answer == "已更新的答案。"


def test_dry_run_writes_nothing(small_bank_dir, tmp_path):
    before = snapshot(small_bank_dir)
    f = write_csv(tmp_path / "new.csv", [GOOD_ROW])
    summary = json.loads(run("kb", "import", "--dry-run", str(f), bank=small_bank_dir).output)
    assert summary["dry_run"] is True and summary["added"] == 1
    assert snapshot(small_bank_dir) == before


def test_replace_drops_entries_not_in_the_file(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "only.csv", [GOOD_ROW])
    summary = json.loads(run("kb", "import", "--replace", str(f), bank=small_bank_dir).output)
    assert summary["removed"] == 12 and summary["entries"] == 1
    assert len(AnswerBank.load(small_bank_dir)) == 1


def test_explicit_format_flag_reads_a_file_without_extension(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "export_from_excel", [GOOD_ROW])
    assert run("kb", "import", str(f), bank=small_bank_dir).exit_code != 0
    result = run("kb", "import", "--format", "csv", str(f), bank=small_bank_dir)
    assert result.exit_code == 0, result.output


# -- error paths: each names file, row and column, and changes nothing -------------
def expect_rejected(bank: Path, f: Path, *fragments: str, fmt: str | None = None) -> str:
    before = snapshot(bank)
    args = ["kb", "import", *(["--format", fmt] if fmt else []), str(f)]
    result = CliRunner().invoke(cli, ["--bank", str(bank), *args])
    assert result.exit_code == 1, result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
    assert "nothing was imported" in result.output or "Error:" in result.output
    assert snapshot(bank) == before, "a rejected import changed the bank"
    return result.output


def test_error_names_file_row_and_column(small_bank_dir, tmp_path):
    bad = {**GOOD_ROW, "领域": "养猪"}
    f = write_csv(tmp_path / "bad.csv", [GOOD_ROW | {"问题": "办理居住证签注需要什么材料？"}, bad])
    expect_rejected(small_bank_dir, f, "bad.csv row 3, column domain", "unknown domain")


def test_one_bad_row_rejects_the_whole_file(small_bank_dir, tmp_path):
    good2 = {**GOOD_ROW, "问题": "办理居住证签注需要什么材料？", "相似问法": "签注要带啥|居住证续签要啥"}
    bad = {**GOOD_ROW, "问题": "居住证多久能办好？", "相似问法": "居住证几天|居住证多久", "答案": "详见 www.example.cn"}
    f = write_csv(tmp_path / "mixed.csv", [good2, bad])
    expect_rejected(small_bank_dir, f, "mixed.csv row 3, column answer", "URL")


def test_missing_required_column(small_bank_dir, tmp_path):
    row = {k: v for k, v in GOOD_ROW.items() if k != "答案"}
    f = write_csv(tmp_path / "noanswer.csv", [row])
    expect_rejected(small_bank_dir, f, "noanswer.csv row 1, column answer", "required column is missing")


def test_unknown_column(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "extra.csv", [{**GOOD_ROW, "备注": "x"}])
    expect_rejected(small_bank_dir, f, "extra.csv row 1, column 备注", "unknown column")


def test_duplicate_column(small_bank_dir, tmp_path):
    f = tmp_path / "dup.csv"
    f.write_text("问题,标准问题,相似问法,答案,领域,事项,方面,部门,依据\n" + "a,b,c|d,e,户籍与身份证,x,所需材料,部门名,依据\n", encoding="utf-8")
    expect_rejected(small_bank_dir, f, "dup.csv row 1, column question", "more than once")


def test_wrong_cell_count(small_bank_dir, tmp_path):
    f = tmp_path / "short.csv"
    f.write_text(",".join(GOOD_ROW) + "\n只有一格\n", encoding="utf-8")
    expect_rejected(small_bank_dir, f, "short.csv row 2", "cells")


def test_bad_date_and_bool(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "dates.csv", [{**GOOD_ROW, "更新日期": "昨天", "本地信息": "也许"}])
    out = expect_rejected(small_bank_dir, f, "dates.csv row 2, column updated_at")
    assert "column city_specific" in out


def test_too_few_similar_questions(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "sim.csv", [{**GOOD_ROW, "相似问法": "居住证要带啥"}])
    expect_rejected(small_bank_dir, f, "sim.csv row 2, column similar_questions", "at least 2")


def test_duplicate_ids_in_file(small_bank_dir, tmp_path):
    rows = [{**GOOD_ROW, "编号": "huji-x1"}, {**GOOD_ROW, "编号": "huji-x1", "问题": "居住证在哪里办理？", "相似问法": "居住证去哪办|居住证在哪弄"}]
    f = write_csv(tmp_path / "ids.csv", rows)
    expect_rejected(small_bank_dir, f, "ids.csv row 3, column id", "already used in row 2")


def test_question_already_in_bank(small_bank_dir, tmp_path):
    f = write_csv(tmp_path / "clash.csv", [{**GOOD_ROW, "问题": "异地就医备案要带啥", "领域": "医疗保障"}])
    expect_rejected(small_bank_dir, f, "also asked by entry", "would break the bank")


def test_invalid_jsonl_line(small_bank_dir, tmp_path):
    f = tmp_path / "broken.jsonl"
    f.write_text('{"问题": "a"\n', encoding="utf-8")
    expect_rejected(small_bank_dir, f, "broken.jsonl row 1", "invalid JSON")


def test_jsonl_line_that_is_not_an_object(small_bank_dir, tmp_path):
    f = tmp_path / "list.jsonl"
    f.write_text('["问题", "答案"]\n', encoding="utf-8")
    expect_rejected(small_bank_dir, f, "list.jsonl row 1", "expected a JSON object")


def test_jsonl_wrong_type(small_bank_dir, tmp_path):
    row = {**{k: v for k, v in GOOD_ROW.items()}, "相似问法": 42}
    f = tmp_path / "types.jsonl"
    f.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    expect_rejected(small_bank_dir, f, "types.jsonl row 1, column similar_questions")


def test_not_utf8_csv(small_bank_dir, tmp_path):
    f = tmp_path / "gbk.csv"
    f.write_bytes(",".join(GOOD_ROW).encode("gbk") + b"\n")
    expect_rejected(small_bank_dir, f, "gbk.csv", "not UTF-8")


def test_corrupt_xlsx(small_bank_dir, tmp_path):
    f = tmp_path / "corrupt.xlsx"
    f.write_bytes(b"PK\x03\x04 this is not a workbook")
    expect_rejected(small_bank_dir, f, "corrupt.xlsx", "not a readable .xlsx")


def test_xlsx_error_names_row_and_column(small_bank_dir, tmp_path):
    f = write_xlsx(tmp_path / "bad.xlsx", [{**GOOD_ROW, "方面": "随便"}])
    expect_rejected(small_bank_dir, f, "bad.xlsx row 2, column aspect")


def test_empty_file(small_bank_dir, tmp_path):
    f = tmp_path / "empty.csv"
    f.write_text("", encoding="utf-8")
    expect_rejected(small_bank_dir, f, "empty.csv row 1", "no header row")


def test_unknown_extension(small_bank_dir, tmp_path):
    f = tmp_path / "bank.txt"
    f.write_text("x", encoding="utf-8")
    expect_rejected(small_bank_dir, f, "bank.txt", "--format")


def test_missing_file(small_bank_dir, tmp_path):
    expect_rejected(small_bank_dir, tmp_path / "nowhere.csv", "no such file")


# -- export and round trips -----------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_round_trip_of_the_bundled_bank_is_lossless(fmt, tmp_path):
    bank = AnswerBank.load(BUNDLED)
    exported = tmp_path / f"bank.{fmt}"
    result = run("kb", "export", "--format", fmt, "-o", str(exported), bank=BUNDLED)
    assert result.exit_code == 0, result.output

    target = tmp_path / "restored"
    result = run("kb", "import", "--replace", str(exported), bank=target)
    assert result.exit_code == 0, result.output
    restored = AnswerBank.load(target)
    assert restored.entries == bank.entries
    assert restored.corpus_hash() == bank.corpus_hash()

    again = tmp_path / f"again.{fmt}"
    run("kb", "export", "--format", fmt, "-o", str(again), bank=target)
    if fmt != "xlsx":  # xlsx files carry a creation time; their cells are compared below
        assert again.read_bytes() == exported.read_bytes()
    else:
        a = [list(r) for r in openpyxl.load_workbook(exported).active.iter_rows(values_only=True)]
        b = [list(r) for r in openpyxl.load_workbook(again).active.iter_rows(values_only=True)]
        assert a == b and a[0] == list(COLUMNS)


def test_export_to_stdout(small_bank_dir):
    result = CliRunner().invoke(cli, ["--bank", str(small_bank_dir), "kb", "export", "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"))))
    assert len(rows) == 12 and rows[0]["similar_questions"].count("\n") >= 1


def test_xlsx_export_needs_output(small_bank_dir):
    result = CliRunner().invoke(cli, ["--bank", str(small_bank_dir), "kb", "export", "--format", "xlsx"])
    assert result.exit_code == 1 and "--output" in result.output


def test_special_values_survive_every_format(tmp_path):
    """valid_until, detail with line breaks, city flag, complex, and cells that look like numbers or formulas."""
    from assistant.bank.schema import Entry

    e = Entry.model_validate(
        {
            "id": "0001",
            "domain": "税务",
            "item": "=SUM(A1)",
            "aspect": "政策标准",
            "question": "00123这个编号的发票怎么查验？",
            "similar_questions": ["发票咋查验", "+86发票真假怎么看"],
            "answer": "可在全国增值税发票查验平台查验，查验结果当场显示。",
            "answer_detail": "第一步；\n第二步",
            "department": "市税务局",
            "complexity": "complex",
            "source": "测试",
            "updated_at": "2026-11-01",
            "valid_until": "2027-06-30",
            "city_specific": True,
        }
    )
    for fmt in ("csv", "jsonl", "xlsx"):
        f = tmp_path / f"one.{fmt}"
        export_entries([e], fmt, f)
        back, problems = entries_from_file(f)
        assert problems == [] and back == [e], (fmt, problems, back)


def test_exports_never_hand_a_spreadsheet_a_formula(tmp_path):
    """A cell starting with = + - @ (a viewer's "=cmd|..." taken into the bank) is written as text, and imported back as it was."""
    from assistant.bank.schema import Entry

    e = Entry.model_validate(
        {
            "id": "0002", "domain": "社会保险", "item": "@社保缴费", "aspect": "常见问题",
            "question": "=cmd|' /C calc'!A0 社保怎么交",
            "similar_questions": ["+社保咋交", "-社保在哪交", "社保缴费=多少"],
            "answer": "灵活就业人员可在线上缴纳，也可到社保经办窗口缴纳。",
            "department": "市社会保险事业管理中心", "complexity": "ordinary", "source": "测试",
            "updated_at": "2026-11-01", "city_specific": False,
        }
    )
    csv_file, xlsx_file = tmp_path / "bank.csv", tmp_path / "bank.xlsx"
    export_entries([e], "csv", csv_file)
    export_entries([e], "xlsx", xlsx_file)

    row = next(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    cells = [row["question"], row["item"], *row["similar_questions"].split("\n")]
    sheet = openpyxl.load_workbook(xlsx_file).active
    header = [c.value for c in sheet[1]]
    xlsx_cells = {header[i]: c for i, c in enumerate(sheet[2])}
    for text in cells + [xlsx_cells["question"].value, xlsx_cells["item"].value]:
        assert not text.startswith(("=", "+", "-", "@")), text
    assert row["question"] == "'=cmd|' /C calc'!A0 社保怎么交"
    assert row["similar_questions"].split("\n") == ["'+社保咋交", "'-社保在哪交", "社保缴费=多少"]
    assert xlsx_cells["question"].data_type == "s"
    for f in (csv_file, xlsx_file):
        back, problems = entries_from_file(f)
        assert problems == [] and back == [e], (f.suffix, problems, back)


# -- kb check -------------------------------------------------------------------------
def test_kb_check_configured_bank(small_bank_dir):
    result = run("kb", "check", bank=small_bank_dir)
    assert result.exit_code == 0 and "12 entries, 0 problem(s)" in result.output


def test_kb_check_files_reports_every_problem(small_bank_dir, tmp_path):
    good = small_bank_dir / "small.jsonl"
    bad = tmp_path / "bad.jsonl"
    first = json.loads(good.read_text(encoding="utf-8").splitlines()[0])
    bad.write_text(json.dumps({**first, "id": "other-1"}, ensure_ascii=False) + "\nnot json\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--bank", str(small_bank_dir), "kb", "check", str(good), str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl line 2: invalid JSON" in result.output and "also asked by entry" in result.output
