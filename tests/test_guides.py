"""`govlive kb import-guides` on the real Guangdong 办事指南 catalogue in ../shared."""

from __future__ import annotations

import json

from click.testing import CliRunner

from assistant.bank.guides import domain_for, entries_from_guides, read_catalogue
from assistant.bank.schema import check_bank
from assistant.bank.store import AnswerBank
from assistant.cli import cli


def test_real_catalogue_becomes_valid_entries(guide_catalogue):
    records = read_catalogue(guide_catalogue)
    assert len(records) == 2262
    result = entries_from_guides(records, source_label="policy.json")
    # Most records answer several aspects; the rest are skipped with a reason.
    assert len(result.entries) > 6000
    assert {e.aspect for e in result.entries} == {"所需材料", "办理地点", "办理时限", "线上办理"}
    assert check_bank(result.entries) == []
    assert all(p.message for p in result.skipped)
    assert all(e.city_specific for e in result.entries)

    by_id = {e.id: e for e in result.entries}
    # A known record: 临时价格干预范围事项提价申报 (TASK_CODE 11440000006939756B2440101007000).
    materials = by_id["guide-11440000006939756B2440101007000-cl"]
    assert materials.question == "办理临时价格干预范围事项提价申报需要什么材料？"
    assert "提价申报申请报告" in materials.answer
    assert materials.department == "广东省发展和改革委员会"
    timing = by_id["guide-11440000006939756B2440101007000-sx"]
    assert "承诺7个工作日内办结" in timing.answer and "30个工作日" in timing.answer
    place = by_id["guide-11440000006939756B2440101007000-dd"]
    assert "东风中路305号" in place.answer and "办理地点：" not in place.answer


def test_long_material_lists_are_clipped_for_speech_but_kept_in_detail(guide_catalogue):
    result = entries_from_guides(read_catalogue(guide_catalogue), source_label="policy.json")
    long_ones = [e for e in result.entries if e.aspect == "所需材料" and e.answer.endswith("等。")]
    assert long_ones, "expected some material lists too long to speak in full"
    for e in long_ones[:50]:
        assert len(e.answer) <= 120
        assert len(e.answer_detail) > len(e.answer) - 20


def test_domains_follow_themes_and_departments():
    assert domain_for({"theme_category": ["出境入境"], "DEPT_NAME": "x"}) == "出入境"
    assert domain_for({"theme_category": ["其他"], "DEPT_NAME": "广州市住房公积金管理中心"}) == "住房公积金"
    assert domain_for({"theme_category": ["其他"], "DEPT_NAME": "某某委员会"}) == "政务服务综合"


def test_cli_import_guides_is_idempotent(guide_catalogue, small_bank_dir):
    runner = CliRunner()
    first = runner.invoke(cli, ["--bank", str(small_bank_dir), "kb", "import-guides", str(guide_catalogue)])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["bank_entries"] == 12 + summary["entries"]
    hash_after_first = AnswerBank.load(small_bank_dir).corpus_hash()
    second = runner.invoke(cli, ["--bank", str(small_bank_dir), "kb", "import-guides", str(guide_catalogue)])
    assert json.loads(second.output)["bank_entries"] == summary["bank_entries"]
    assert AnswerBank.load(small_bank_dir).corpus_hash() == hash_after_first


def test_cli_import_guides_dry_run_and_show_skipped(guide_catalogue, small_bank_dir):
    before = AnswerBank.load(small_bank_dir).corpus_hash()
    result = CliRunner().invoke(cli, ["--bank", str(small_bank_dir), "kb", "import-guides", "--dry-run", "--show-skipped", str(guide_catalogue)])
    assert result.exit_code == 0
    assert "skipped: policy.json record" in result.stderr
    assert json.loads(result.stdout)["dry_run"] is True
    assert AnswerBank.load(small_bank_dir).corpus_hash() == before


def test_cli_import_guides_rejects_a_broken_catalogue(tmp_path, small_bank_dir):
    f = tmp_path / "broken.json"
    f.write_text('{"matter_name": "x"}\n{not json\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--bank", str(small_bank_dir), "kb", "import-guides", str(f)])
    assert result.exit_code == 1 and "broken.json line 2" in result.output
