"""The ``govlive`` command. Each subcommand is a thin layer over a Python API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .service.secrets import ROLES
from .settings import Settings


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings)  # type: ignore[return-value]


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _quiet_libraries() -> None:
    """Keep the libraries' start-up chatter (offline-hub notices, weight-loading
    bars) off the terminal; govlive prints what the operator needs."""
    import logging
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)


@click.group()
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path, file_okay=False), help="Answer-bank directory [env GOVLIVE_BANK_DIR; default: the bundled corpus/bank]")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), help="Where the index and database live [env GOVLIVE_DATA_DIR; default ./govlive-data]")
@click.option("--model", "model_name", help="sentence-transformers model name [env GOVLIVE_MODEL_NAME]")
@click.option("--embedding-backend", type=click.Choice(["sentence-transformers", "onnx-int8"]),
              help="How vectors are computed [env GOVLIVE_EMBEDDING_BACKEND; default sentence-transformers]")
@click.version_option(package_name="govlive")
@click.pass_context
def cli(ctx: click.Context, bank_dir: Path | None, data_dir: Path | None, model_name: str | None, embedding_backend: str | None) -> None:
    """govlive: answers for government-service livestreams."""
    _quiet_libraries()
    given = {"bank_dir": bank_dir, "data_dir": data_dir, "model_name": model_name, "embedding_backend": embedding_backend}
    overrides = {k: v for k, v in given.items() if v is not None}
    ctx.obj = Settings(**overrides)


# -- kb ---------------------------------------------------------------------------
@cli.group()
def kb() -> None:
    """The answer bank: check, import, export."""


def _load_bank(settings: Settings, *, allow_missing: bool = False):
    from .bank.store import AnswerBank, BankError

    if allow_missing and not settings.bank_dir.exists():
        return AnswerBank(settings.bank_dir, [])
    try:
        return AnswerBank.load(settings.bank_dir)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except BankError as exc:
        _fail(f"the bank at {settings.bank_dir} is invalid: {exc}")


@kb.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def kb_check(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate every entry and the bank-wide rules; print entries per domain.

    With FILES, checks those JSONL files taken as one bank instead of the
    configured bank (useful before copying a domain file in).
    """
    from .bank.store import AnswerBank, read_bank_files

    settings = _settings(ctx)
    paths = list(files) or sorted(settings.bank_dir.glob("*.jsonl"))
    if not files and not settings.bank_dir.is_dir():
        _fail(f"answer bank directory not found: {settings.bank_dir}")
    entries, problems = read_bank_files(paths)
    for p in problems:
        click.echo(str(p), err=True)
    for domain, n in AnswerBank(settings.bank_dir, entries).counts_by_domain().items():
        click.echo(f"{domain}\t{n}")
    click.echo(f"{len(entries)} entries, {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


@kb.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), help="Default: from the file name")
@click.option("--replace", is_flag=True, help="Replace the whole bank with the file instead of merging by id")
@click.option("--dry-run", is_flag=True, help="Check the file and report what would change; write nothing")
@click.pass_context
def kb_import(ctx: click.Context, file: Path, fmt: str | None, replace: bool, dry_run: bool) -> None:
    """Import entries from CSV, XLSX or JSONL (Chinese headers accepted).

    Rows with an existing id replace that entry; others are added. A file with
    any error changes nothing.
    """
    from .bank.store import BankError
    from .bank.tabular import ImportFormatError, entries_from_file

    settings = _settings(ctx)
    bank = _load_bank(settings, allow_missing=True)
    try:
        incoming, problems = entries_from_file(file, fmt)
    except ImportFormatError as exc:
        _fail(str(exc))
    if problems:
        for p in problems:
            click.echo(str(p), err=True)
        _fail(f"{len(problems)} problem(s) in {file}; nothing was imported")
    try:
        result = bank.replaced_by(incoming) if replace else bank.merged_with(incoming)
    except BankError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        _fail(f"importing {file} would break the bank ({len(exc.problems)} problem(s)); nothing was imported")
    added = sum(1 for e in incoming if e.id not in bank)
    updated = sum(1 for e in incoming if e.id in bank and bank.get(e.id) != e)
    removed = sum(1 for e in bank.entries if result.get(e.id) is None)
    summary = {"file": str(file), "rows": len(incoming), "added": added, "updated": updated, "unchanged": len(incoming) - added - updated, "removed": removed, "entries": len(result), "dry_run": dry_run}
    if not dry_run:
        result.save()
    click.echo(json.dumps(summary, ensure_ascii=False))


@kb.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File to write (default: stdout; required for xlsx)")
@click.pass_context
def kb_export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Export the whole bank; `kb import --replace` of the result gives back the same bank."""
    from .bank.tabular import export_entries

    bank = _load_bank(_settings(ctx))
    if output is None and fmt == "xlsx":
        _fail("xlsx needs --output FILE")
    data = export_entries(bank.entries, fmt, output)
    if data is not None:
        sys.stdout.buffer.write(data)
    else:
        click.echo(f"wrote {len(bank)} entries to {output}", err=True)


@kb.command("import-guides")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Report what would be imported; write nothing")
@click.option("--show-skipped", is_flag=True, help="List every skipped record and why")
@click.pass_context
def kb_import_guides(ctx: click.Context, file: Path, dry_run: bool, show_skipped: bool) -> None:
    """Turn a 办事指南 catalogue (JSON Lines or a JSON array) into entries.

    Each record yields entries for what it can answer: 所需材料, 办理地点,
    办理时限 and 线上办理. Re-importing the same catalogue updates the same ids.
    """
    from .bank.guides import entries_from_guides, read_catalogue
    from .bank.store import BankError

    settings = _settings(ctx)
    bank = _load_bank(settings, allow_missing=True)
    try:
        records = read_catalogue(file)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    result = entries_from_guides(records, source_label=file.name)
    if show_skipped:
        for p in result.skipped:
            click.echo(f"skipped: {p}", err=True)
    try:
        merged = bank.merged_with(result.entries)
    except BankError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        _fail(f"the guide entries would break the bank ({len(exc.problems)} problem(s)); nothing was imported")
    if not dry_run:
        merged.save()
    click.echo(json.dumps({**result.summary(), "bank_entries": len(merged), "dry_run": dry_run}, ensure_ascii=False))


# -- index ------------------------------------------------------------------------
@cli.group()
def index() -> None:
    """The search index: build it, inspect it, query it."""


def _embedder(settings: Settings, *, cache: bool = False):
    from indexer.embedder import open_embedder

    return open_embedder(settings, log=lambda message: click.echo(f"govlive: {message}", err=True), cache=cache)


@index.command("build")
@click.option("--quiet", is_flag=True, help="No progress bar")
@click.pass_context
def index_build(ctx: click.Context, quiet: bool) -> None:
    """Embed the bank into FAISS and build the jieba/BM25 index.

    Only phrasings not embedded before are embedded; the new index replaces
    the old one atomically.
    """
    from indexer.build import build_index

    from .match.fit import matcher_fitter
    from .match.labelled import LabelledFileError

    settings = _settings(ctx)
    bank = _load_bank(settings)
    embedder = _embedder(settings)
    try:
        report = build_index(bank, index_link=settings.index_dir, embedder=embedder, progress=not quiet, fit=matcher_fitter(settings, bank, embedder))
    except LabelledFileError as exc:
        _fail(f"cannot fit the matcher: {exc}")
    m = report.manifest
    click.echo(
        json.dumps(
            {
                "index": str(settings.index_dir),
                "build": report.path.name,
                "entries": m.entry_count,
                "vectors": m.vector_count,
                "embedded": m.texts_embedded,
                "reused": m.texts_reused,
                "entries_added": m.entries_added,
                "entries_changed": m.entries_changed,
                "entries_removed": m.entries_removed,
                "faiss": m.faiss_index_type,
                "seconds": m.build_seconds,
                "size_mb": round(report.size_bytes / 2**20, 1),
                "matcher": m.fitted,
            },
            ensure_ascii=False,
        )
    )


def _open_index(settings: Settings, bank):
    from indexer.index import BankIndex
    from indexer.manifest import IndexMismatch, IndexMissing

    try:
        return BankIndex.open_configured(settings, bank)
    except (IndexMismatch, IndexMissing) as exc:
        _fail(str(exc))


@index.command("info")
@click.pass_context
def index_info(ctx: click.Context) -> None:
    """Print the manifest of the current index and whether it fits the bank."""
    from indexer.manifest import IndexManifest, IndexMissing

    settings = _settings(ctx)
    try:
        manifest = IndexManifest.read(settings.index_dir)
    except IndexMissing as exc:
        _fail(str(exc))
    click.echo(manifest.model_dump_json(indent=2))
    _open_index(settings, _load_bank(settings))
    click.echo("index fits the bank and the configured model", err=True)


@index.command("search")
@click.argument("query")
@click.option("-k", "--top-k", default=5, show_default=True)
@click.pass_context
def index_search(ctx: click.Context, query: str, top_k: int) -> None:
    """Show the raw dense and lexical hits for QUERY (a debugging aid; `govlive match` decides)."""
    settings = _settings(ctx)
    bank = _load_bank(settings)
    idx = _open_index(settings, bank)
    dense = idx.search_dense(_embedder(settings).encode_queries([query]), top_k)[0]
    lexical = idx.search_lexical(query, top_k)
    for name, hits in (("dense", [(h.entry_id, h.score) for h in dense]), ("lexical", lexical)):
        for rank, (eid, score) in enumerate(hits, start=1):
            e = bank.get(eid)
            click.echo(json.dumps({"side": name, "rank": rank, "score": round(score, 4), "entry_id": eid, "question": e.question if e else None}, ensure_ascii=False))


# -- model ------------------------------------------------------------------------
@cli.group()
def model() -> None:
    """The embedding model's ONNX Runtime export (the onnx-int8 backend)."""


@model.command("export-onnx")
@click.pass_context
def model_export_onnx(ctx: click.Context) -> None:
    """Export the configured model to ONNX and quantise it to int8, into <data-dir>/models.

    The onnx-int8 backend does this by itself on first use; this command
    does it ahead of time (or again, after a model update).
    """
    from indexer.onnx_embedder import export_dir_for, export_onnx

    settings = _settings(ctx)
    directory = export_dir_for(settings.models_dir, settings.model_name)
    manifest = export_onnx(settings.model_name, directory, log=lambda message: click.echo(f"govlive: {message}", err=True))
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(directory.glob("*.onnx"))}
    click.echo(json.dumps({"directory": str(directory), "size_mb": sizes, **manifest.model_dump()}, ensure_ascii=False))


@model.command("check-onnx")
@click.option("--min-cosine", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="Fail when any text's ONNX vector is further than this from its sentence-transformers vector")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Compare an evenly spaced sample of this many texts instead of all (a quick check)")
@click.pass_context
def model_check_onnx(ctx: click.Context, min_cosine: float, limit: int | None) -> None:
    """Compare the onnx-int8 vectors with the sentence-transformers ones on the labelled comments and bank questions.

    Exits 1 when any cosine falls below --min-cosine.
    """
    from indexer.embedder import Embedder
    from indexer.onnx_embedder import OnnxEmbedder, agreement, ensure_export

    from .match.labelled import read_labelled
    from .normalize.text import normalize_comment
    from .settings import BUNDLED_CALIBRATION_SET, REPO_ROOT

    settings = _settings(ctx)
    bank = _load_bank(settings)
    comments = [c for path in (BUNDLED_CALIBRATION_SET, REPO_ROOT / "corpus" / "eval" / "test.jsonl") for c in read_labelled(path)]
    texts = sorted({normalize_comment(c.text).for_matching for c in comments} | {e.question for e in bank.entries})
    texts = [t for t in texts if t]
    if limit and limit < len(texts):
        texts = [texts[i * len(texts) // limit] for i in range(limit)]
    directory = ensure_export(settings.model_name, settings.models_dir, log=lambda message: click.echo(f"govlive: {message}", err=True))
    common = {"model_name": settings.model_name, "query_prompt": settings.query_prompt, "document_prompt": settings.document_prompt}
    reference = Embedder(settings.model_name, query_prompt=settings.query_prompt, document_prompt=settings.document_prompt)
    report = agreement(reference, OnnxEmbedder(directory, **common), texts, min_cosine=min_cosine)
    click.echo(json.dumps(report, ensure_ascii=False))
    if not report["passed"]:
        sys.exit(1)


# -- match / eval -----------------------------------------------------------------
def _open_matcher(settings: Settings):
    from .match.matcher import Matcher

    bank = _load_bank(settings)
    index = _open_index(settings, bank)
    try:
        return Matcher.open(index, bank, _embedder(settings, cache=True)), index
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))


def _stdin_comments():
    """(line number, text or None if undecodable) for each non-blank line of stdin."""
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield number, None
            continue
        if text.strip():
            yield number, text


@cli.command("match")
@click.option("--top-k", type=click.IntRange(0, 20), default=0, help="Add the N best candidates to each line")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=64, show_default=True, help="Comments embedded together")
@click.pass_context
def match_command(ctx: click.Context, top_k: int, batch_size: int) -> None:
    """Match comments read from stdin, one per line; write one JSON object per line.

    Each object has text, display (personal numbers masked), normalized,
    intent, decision (answer|suggest|workorder|ignore), reason, entry_id,
    question, answer, domain, department and score. Blank lines are skipped;
    a line that is not UTF-8 gives {"line": N, "error": ...}.
    """
    matcher, _ = _open_matcher(_settings(ctx))
    out = click.get_text_stream("stdout")
    batch: list[str] = []

    def flush() -> None:
        for result in matcher.match(batch, top_k=top_k):
            out.write(result.model_dump_json(exclude_none=False) + "\n")
        out.flush()
        batch.clear()

    for number, text in _stdin_comments():
        if text is None:
            flush()
            out.write(json.dumps({"line": number, "error": "not UTF-8 text"}) + "\n")
            continue
        batch.append(text)
        if len(batch) >= batch_size:
            flush()
    flush()


@cli.command("eval")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON")
@click.pass_context
def eval_command(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Score govlive and three baselines on a labelled comment file (JSONL: text, intent, entry_id)."""
    from .match.evaluate import evaluate, format_report
    from .match.labelled import LabelledFileError

    matcher, index = _open_matcher(_settings(ctx))
    try:
        report = evaluate(matcher, index, file)
    except LabelledFileError as exc:
        _fail(str(exc))
    click.echo(report.model_dump_json(indent=2) if as_json else format_report(report))


# -- the live service -------------------------------------------------------------
def _service_urls(settings: Settings, secrets, base_url: str, rooms, *, control: bool = True) -> list[dict[str, str]]:
    """Per room: the overlay URL, with the room's read-only overlay token, and (``control``) the control page's, with the
    shared control token."""
    urls = []
    for r in rooms:
        u = {"room": r.id, "name": r.name, "overlay": f"{base_url}/overlay?room={r.id}&token={secrets.overlay_token(r.id)}"}
        if control:
            u["control"] = f"{base_url}/control?room={r.id}&token={secrets.control_token}"
        urls.append(u)
    return urls


@cli.command("serve")
@click.option("--host", help="Interface to listen on [env GOVLIVE_HOST; default 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [env GOVLIVE_PORT; default 8000]")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), help="Same as the global --data-dir")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info", show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None, log_level: str) -> None:
    """Run the live service: platform pushes in, overlay websocket and host API out.

    Comments stored but not processed before a crash are processed at start.
    """
    import logging

    import uvicorn

    from .service.app import create_app
    from .service.context import StartupError, build_services

    settings = _settings(ctx)
    updates = {k: v for k, v in {"host": host, "port": port, "data_dir": data_dir}.items() if v is not None}
    if updates:
        settings = settings.model_copy(update=updates)
    from .service.log_redaction import redact_root_handlers, uvicorn_log_config

    logging.basicConfig(level=getattr(logging, log_level.upper()), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_root_handlers()  # ?token= and Bearer values never reach a log file
    logging.getLogger("faiss").setLevel(logging.WARNING)  # which CPU build it loaded is not news to an operator
    try:
        services = build_services(settings)
    except (StartupError, ValueError) as exc:
        _fail(str(exc))
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"govlive: {len(services.bank)} bank entries, {len(services.rooms.rooms)} rooms", err=True)
    # Only overlay URLs: their tokens are read-only and good for one room. The other tokens are not printed
    # into what may become a kept log; `govlive tokens` prints them on demand.
    for u in _service_urls(settings, services.secrets, base, services.rooms.rooms[:3], control=False):
        click.echo(f"  {u['name']}: overlay {u['overlay']}", err=True)
    click.echo(f"govlive: host, control, staff and admin tokens are in {settings.secrets_path} (mode 0600); "
               "`govlive tokens` prints them with every room's URLs, `govlive accounts add` makes a token per person", err=True)
    config = uvicorn.Config(create_app(settings, services), host=settings.host, port=settings.port, log_level=log_level,
                            log_config=uvicorn_log_config(), ws_max_size=64 * 1024, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run()


@cli.command("tokens")
@click.option("--url", "base_url", help="The server's address as the browsers reach it [default: http://HOST:PORT of the settings]")
@click.pass_context
def tokens_command(ctx: click.Context, base_url: str | None) -> None:
    """Print the shared role tokens and every room's overlay and control URLs (JSON).

    `govlive serve` prints only the overlay URLs (their tokens are read-only and
    good for one room); this prints the rest on demand, from secrets.json or the
    GOVLIVE_*_TOKEN settings. Treat the output as a password.
    """
    from .rooms import Rooms, RoomsError
    from .service.secrets import load_secrets

    settings = _settings(ctx)
    try:
        secrets = load_secrets(settings, create=False)
        rooms = Rooms.read(settings.rooms_file)
    except (ValueError, RoomsError) as exc:
        _fail(str(exc))
    base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    click.echo(json.dumps({
        "secrets_file": str(settings.secrets_path),
        "tokens": {role: getattr(secrets, f"{role}_token") for role in ROLES},
        "staff": f"{base}/staff?token={secrets.staff_token}",
        "rooms": _service_urls(settings, secrets, base, rooms.rooms),
    }, ensure_ascii=False, indent=1))


# -- named accounts ---------------------------------------------------------------
@cli.group()
def accounts() -> None:
    """Named accounts: a token per person (host, control, staff or admin), so the audit says who.

    Kept in <data-dir>/accounts.json (mode 0600) as the token's sha256; a running
    server sees additions and revocations at once.
    """


@accounts.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--rooms", "room_names", help="Comma-separated room ids the account may act on [default: every room]")
@click.pass_context
def accounts_add(ctx: click.Context, name: str, role: str, room_names: str | None) -> None:
    """Add an account and print its token, once (it is not stored: keep it, or revoke and add again)."""
    from .rooms import Rooms, RoomsError
    from .service.accounts import AccountsError, add_account

    settings = _settings(ctx)
    rooms = None
    if room_names is not None:
        try:
            known = Rooms.read(settings.rooms_file)
        except RoomsError as exc:
            _fail(str(exc))
        rooms = [r.strip() for r in room_names.split(",") if r.strip()]
        unknown = [r for r in rooms if known.get(r) is None]
        if unknown or not rooms:
            _fail(f"--rooms: {', '.join(unknown) or 'no room given'} (known: {', '.join(r.id for r in known.rooms)})")
    try:
        account, token = add_account(settings.accounts_path, name, role, rooms)
    except AccountsError as exc:
        _fail(str(exc))
    click.echo(json.dumps({"name": account.name, "role": account.role, "rooms": account.rooms, "token": token}, ensure_ascii=False))
    click.echo(f"govlive: the token is shown only this once; {settings.accounts_path} keeps its sha256", err=True)


@accounts.command("list")
@click.pass_context
def accounts_list(ctx: click.Context) -> None:
    """One JSON line per account: name, role, rooms, created_at, revoked (never a token)."""
    from .service.accounts import AccountsError, read_accounts

    try:
        found = read_accounts(_settings(ctx).accounts_path)
    except AccountsError as exc:
        _fail(str(exc))
    for a in found:
        click.echo(json.dumps(a.model_dump(exclude={"token_sha256"}), ensure_ascii=False))


@accounts.command("revoke")
@click.argument("name")
@click.pass_context
def accounts_revoke(ctx: click.Context, name: str) -> None:
    """Revoke NAME's token: the server refuses it (401) from the next request on."""
    from .service.accounts import AccountsError, revoke_account

    try:
        revoked = revoke_account(_settings(ctx).accounts_path, name)
    except AccountsError as exc:
        _fail(str(exc))
    if not revoked:
        _fail(f"no active account named {name!r}")
    click.echo(json.dumps({"revoked": name}, ensure_ascii=False))


def _rooms_for(settings: Settings, names: str | None):
    from .rooms import Rooms, RoomsError

    try:
        rooms = Rooms.read(settings.rooms_file)
    except RoomsError as exc:
        _fail(str(exc))
    if not names:
        return rooms.rooms[:3]
    chosen = []
    for name in names.split(","):
        room = rooms.get(name.strip())
        if room is None:
            _fail(f"room {name!r} is not in {settings.rooms_file} (known: {', '.join(r.id for r in rooms.rooms)})")
        chosen.append(room)
    return chosen


@cli.command("simulate")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running govlive server")
@click.option("--rate", type=click.FloatRange(0.1, 100_000), default=20, show_default=True, help="Items (comments, likes, gifts …) per second")
@click.option("--duration", type=click.FloatRange(0.1, 3600), default=10, show_default=True, help="Seconds")
@click.option("--rooms", "room_names", help="Comma-separated room ids [default: the first three rooms]")
@click.option("--only-valid", is_flag=True, help="Skip the recorded malformed payloads")
@click.pass_context
def simulate_command(ctx: click.Context, url: str, rate: float, duration: float, room_names: str | None, only_valid: bool) -> None:
    """Replay the recorded Douyin, Kuaishou and WeChat Channels payloads into a running server.

    Signs them with the platform secrets of --data-dir (secrets.json) or GOVLIVE_* settings.
    """
    import asyncio

    from .service.secrets import load_secrets
    from .simulate import simulate

    settings = _settings(ctx)
    rooms = _rooms_for(settings, room_names)
    try:
        secrets = load_secrets(settings, create=False)
    except ValueError as exc:
        _fail(str(exc))
    report = asyncio.run(simulate(url.rstrip("/"), rooms, secrets, rate=rate, duration=duration, only_valid=only_valid))
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    if report.errors and not report.payloads - report.errors:
        _fail(f"could not reach {url}")


@cli.command("demo")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--rate", type=click.FloatRange(0.1, 10_000), default=20, show_default=True, help="Items per second to replay")
@click.option("--duration", type=click.FloatRange(1, 3600), default=15, show_default=True, help="Seconds of simulated stream")
@click.option("--rooms", "room_names", help="Comma-separated room ids [default: the first three rooms]")
@click.option("--keep-running/--no-keep-running", default=True, show_default=True, help="Leave the server up after the simulation (Ctrl-C stops it)")
@click.pass_context
def demo(ctx: click.Context, port: int, rate: float, duration: float, room_names: str | None, keep_running: bool) -> None:
    """Build the index if needed, start the server, replay a simulated stream, print the overlay and control URLs."""
    import asyncio
    import subprocess
    import time

    import httpx

    from indexer.manifest import IndexMismatch, IndexMissing

    from .service.secrets import load_secrets
    from .simulate import simulate

    settings = _settings(ctx)
    rooms = _rooms_for(settings, room_names)
    try:
        _open_index_quietly(settings)
    except (IndexMissing, IndexMismatch) as exc:
        click.echo(f"demo: building the index first ({exc})", err=True)
        ctx.invoke(index_build, quiet=True)
    secrets = load_secrets(settings)  # created here, before the server reads it
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "assistant.cli", "--data-dir", str(settings.data_dir), "--bank", str(settings.bank_dir),
               "--model", settings.model_name, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command)
    admin = {"authorization": f"Bearer {secrets.admin_token}"}

    def status() -> dict | None:
        try:
            response = httpx.get(f"{base}/api/admin/status", headers=admin, timeout=5)
            return response.json() if response.status_code == 200 else None
        except httpx.HTTPError:
            return None

    try:
        deadline = time.monotonic() + 180
        while status() is None:
            if server.poll() is not None:
                _fail(f"the server exited with code {server.returncode} (is port {port} free?)")
            if time.monotonic() > deadline:
                _fail("the server did not come up within 180 s")
            time.sleep(0.5)
        click.echo(f"demo: server up at {base}; replaying recorded payloads for {duration:g} s at {rate:g} items/s into {', '.join(r.id for r in rooms)}", err=True)
        report = asyncio.run(simulate(base, rooms, secrets, rate=rate, duration=duration))
        deadline = time.monotonic() + 120
        figures = status()
        while figures and figures["pending"] and time.monotonic() < deadline:
            time.sleep(0.5)
            figures = status()
        click.echo(json.dumps({"simulation": report.as_dict(), "service": figures, "urls": _service_urls(settings, secrets, base, rooms)},
                              ensure_ascii=False, indent=1))
        if keep_running:
            click.echo("demo: open the overlay and control URLs above in a browser; Ctrl-C stops the server", err=True)
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def _open_index_quietly(settings: Settings) -> None:
    from indexer.index import BankIndex

    from .bank.store import AnswerBank

    BankIndex.open_configured(settings, AnswerBank.load(settings.bank_dir))


# -- the daily ledger -------------------------------------------------------------
@cli.group()
def ledger() -> None:
    """The daily ledger (台账) of the live rooms and their work orders."""


@ledger.command("export")
@click.option("--date", "day", help="YYYY-MM-DD (Asia/Shanghai) [default: today]")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File to write [default: govlive-ledger-DATE.FORMAT]")
@click.pass_context
def ledger_export(ctx: click.Context, day: str | None, fmt: str, output: Path | None) -> None:
    """Write one day's ledger: per room and platform, then the 1+9 overview and totals (xlsx adds the top topics)."""
    import datetime as dt

    from .ingest.record import SHANGHAI
    from .rooms import Rooms, RoomsError
    from .store import SqliteStore
    from .workorders.ledger import build_ledger, ledger_csv, ledger_xlsx, parse_ledger_day

    settings = _settings(ctx)
    try:
        date = parse_ledger_day(day) if day else dt.datetime.now(SHANGHAI).date()
    except ValueError as exc:
        _fail(f"--{exc}")
    if not settings.database_path.exists():
        _fail(f"no database at {settings.database_path}: run govlive serve first (or pass --data-dir)")
    try:
        rooms = Rooms.read(settings.rooms_file)
    except RoomsError as exc:
        _fail(str(exc))
    store = SqliteStore(settings.database_path)
    try:
        result = build_ledger(store, rooms, _load_bank(settings), date)
    finally:
        store.close()
    output = output or Path(f"govlive-ledger-{result.date}.{fmt}")
    output.write_bytes(ledger_csv(result) if fmt == "csv" else ledger_xlsx(result))
    t = result.totals
    click.echo(json.dumps({"file": str(output), "date": result.date, "rows": len(result.rows), "comments": t.comments,
                           "questions": t.questions, "answered_live": t.answered_live, "answer_rate": t.answer_rate,
                           "work_orders_opened": t.work_orders_opened}, ensure_ascii=False))


# -- the work-order department router ----------------------------------------------
@cli.group()
def router() -> None:
    """The department router: a classifier trained on labelled history (e.g. 12345 hotline records)."""


@router.command("train")
@click.option("--data", "data_file", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Labelled CSV (UTF-8) or .xlsx")
@click.option("--text-col", required=True, help="Column holding the text")
@click.option("--label-col", required=True, help="Column holding the label (class)")
@click.option("--split-col", help="Column naming each row's split; applies to --data and --dev alike")
@click.option("--train-split", help="Training rows' value in --split-col [default: train]")
@click.option("--dev-split", help="Dev rows' value in --split-col [default: dev]")
@click.option("--dev", "dev_file", type=click.Path(path_type=Path, dir_okay=False), help="Dev rows from this file instead of --data")
@click.option("--departments", "departments_file", type=click.Path(path_type=Path, dir_okay=False),
              help="JSON label → department name [default: config/router_departments.example.json]")
@click.pass_context
def router_train(ctx: click.Context, data_file: Path, text_col: str, label_col: str, split_col: str | None, train_split: str | None,
                 dev_split: str | None, dev_file: Path | None, departments_file: Path | None) -> None:
    """Train the router, score it on the dev rows and save it under <data dir>/router; print a JSON report."""
    from .settings import REPO_ROOT
    from .workorders.router import load_departments, read_labelled_table, train_router

    settings = _settings(ctx)
    if split_col is None and (train_split or dev_split):
        _fail("--train-split / --dev-split need --split-col")
    if split_col is not None:
        train_split, dev_split = train_split or "train", dev_split or "dev"
    try:
        departments = load_departments(departments_file or REPO_ROOT / "config" / "router_departments.example.json")
        train = read_labelled_table(data_file, text_col, label_col, split_col, train_split)
        dev = None
        if dev_file is not None or split_col is not None:
            dev = read_labelled_table(dev_file or data_file, text_col, label_col, split_col, dev_split, min_classes=1)
        trained = train_router(train.texts, train.labels, dev_texts=dev.texts if dev else None, dev_labels=dev.labels if dev else None,
                               departments=departments, train_source=train.source, dev_source=dev.source if dev else None)
        saved = trained.router.save(settings.router_dir)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    report = trained.report
    click.echo(json.dumps({
        "saved_to": str(saved), "train_rows": report.train_rows, "dev_rows": report.dev_rows,
        "skipped": {name: {"blank_text": t.source.skipped_blank_text, "blank_label": t.source.skipped_blank_label}
                    for name, t in (("train", train), ("dev", dev)) if t is not None},
        "classes": report.classes, "dev_accuracy": report.dev_accuracy, "dev_macro_f1": report.dev_macro_f1,
        "per_class_f1": report.dev_per_class_f1, "seconds": report.seconds, "warnings": report.warnings,
    }, ensure_ascii=False))


@router.command("predict")
@click.pass_context
def router_predict(ctx: click.Context) -> None:
    """Route texts read from stdin, one per line: one JSON line each with text, label, department and confidence.

    Blank lines are skipped; a line that is not UTF-8 gives {"line": N, "error": ...}.
    """
    from .workorders.router import Router

    try:
        model = Router.load(_settings(ctx).router_dir)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    batch: list[str] = []

    def flush() -> None:
        for text, prediction in zip(batch, model.predict(batch)):
            click.echo(json.dumps({"text": text, **prediction.model_dump()}, ensure_ascii=False))
        batch.clear()

    for number, text in _stdin_comments():
        if text is None:
            flush()
            click.echo(json.dumps({"line": number, "error": "not UTF-8 text"}))
            continue
        batch.append(text)
        if len(batch) >= 256:
            flush()
    flush()


# -- workorder --------------------------------------------------------------------
@cli.group()
def workorder() -> None:
    """Work orders under the 125 rule."""


@workorder.command("deadline")
@click.option("--created", required=True, help="When the order's clock started, ISO 8601 with offset")
@click.option("--dispatched", help="When it was dispatched, ISO 8601 with offset [default: count from dispatch_due]")
@click.option("--complexity", type=click.Choice(["ordinary", "complex"]), required=True, help="ordinary: 2 working days; complex: 5")
@click.option("--business-hours", help="Windows like 09:00-12:00,13:30-17:30 [env GOVLIVE_BUSINESS_HOURS]")
@click.option("--calendar-overrides", type=click.Path(path_type=Path, dir_okay=False),
              help='JSON {"holidays": [...], "workdays": [...]} [env GOVLIVE_CALENDAR_OVERRIDES_FILE]')
@click.pass_context
def workorder_deadline(ctx: click.Context, created: str, dispatched: str | None, complexity: str,
                       business_hours: str | None, calendar_overrides: Path | None) -> None:
    """Print an order's 125-rule deadlines as one JSON line.

    Keys: dispatch_due, resolve_due, provisional (and provisional_reason when
    a year chinesecalendar does not cover was involved; a warning then also
    goes to stderr).
    """
    from .workorders.deadlines import BusinessHours, WorkingCalendar, deadline_for, parse_aware_iso

    settings = _settings(ctx)
    try:
        created_at = parse_aware_iso(created, "--created")
        dispatched_at = parse_aware_iso(dispatched, "--dispatched") if dispatched is not None else None
        hours = BusinessHours.parse(business_hours if business_hours is not None else settings.business_hours)
        calendar = WorkingCalendar.load(calendar_overrides if calendar_overrides is not None else settings.calendar_overrides_file)
        deadlines = deadline_for(created_at, complexity=complexity, dispatched=dispatched_at, calendar=calendar, hours=hours)  # type: ignore[arg-type]
    except ValueError as exc:
        _fail(str(exc))
    result = {
        "dispatch_due": deadlines.dispatch_due.isoformat(timespec="seconds"),
        "resolve_due": deadlines.resolve_due.isoformat(timespec="seconds"),
        "provisional": deadlines.provisional,
    }
    if deadlines.provisional:
        result["provisional_reason"] = deadlines.provisional_reason
        click.echo(f"Warning: provisional deadlines: {deadlines.provisional_reason}", err=True)
    click.echo(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    cli()
