"""The answer bank on disk: a directory of JSONL files, one per domain.

One file per domain keeps diffs reviewable and lets staff of one domain own
their file. Entries are written sorted by id, one JSON object per line, so the
same bank always produces the same bytes (and the same corpus hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from .domains import DOMAIN_BY_NAME, DOMAINS
from .schema import Entry, Problem, check_bank, validate_entry


class BankError(Exception):
    """The bank (or a change to it) breaks the rules; ``problems`` says where."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s):\n{shown}{more}")


def read_jsonl_objects(path: Path, unit: str = "line") -> tuple[list[tuple[int, str, dict[str, Any]]], list[Problem]]:
    """The JSON objects of a JSON Lines file as (line number, where, object),
    where is ``"<path> <unit> <n>"``, and a problem for every line that is not one.

    Raises UnicodeDecodeError for a file that is not UTF-8.
    """
    objects: list[tuple[int, str, dict[str, Any]]] = []
    problems: list[Problem] = []
    text = Path(path).read_text(encoding="utf-8-sig")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} {unit} {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(where, "", f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(where, "", "expected a JSON object"))
            continue
        objects.append((number, where, data))
    return objects, problems


def read_jsonl_entries(path: Path) -> tuple[list[Entry], list[Problem]]:
    """Entries of one JSONL bank file, and what is wrong with its lines."""
    objects, problems = read_jsonl_objects(path)
    entries: list[Entry] = []
    for _, where, data in objects:
        entry, errs = validate_entry(data, where)
        problems.extend(errs)
        if entry is not None:
            entries.append(entry)
    return entries, problems


def read_bank_files(paths: list[Path], *, check: bool = True) -> tuple[list[Entry], list[Problem]]:
    """Entries of several JSONL files taken as one bank, and every problem:
    per line, and (with ``check``) the bank-wide rules."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path in paths:
        file_entries, file_problems = read_jsonl_entries(path)
        entries.extend(file_entries)
        problems.extend(file_problems)
    if check:
        problems.extend(check_bank(entries))
    return entries, problems


def entry_to_json(entry: Entry) -> str:
    return json.dumps(entry.model_dump(mode="json"), ensure_ascii=False)


class AnswerBank:
    """The entries of one bank directory, checked as a whole."""

    def __init__(self, directory: Path, entries: list[Entry]):
        self.directory = Path(directory)
        self._entries = sorted(entries, key=lambda e: e.id)
        self._by_id = {e.id: e for e in self._entries}

    # -- reading ---------------------------------------------------------
    @classmethod
    def load(cls, directory: Path, *, check: bool = True) -> "AnswerBank":
        """Read every ``*.jsonl`` file of ``directory``; raise :class:`BankError` on any problem."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"answer bank directory not found: {directory}")
        entries, problems = read_bank_files(sorted(directory.glob("*.jsonl")), check=check)
        if problems:
            raise BankError(problems)
        return cls(directory, entries)

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._by_id

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def counts_by_domain(self) -> dict[str, int]:
        counts = Counter(e.domain for e in self._entries)
        return {d.name: counts.get(d.name, 0) for d in DOMAINS}

    def corpus_hash(self) -> str:
        """Identifies the bank's content: changes when any field of any entry does."""
        h = hashlib.sha256()
        for e in self._entries:
            h.update(e.id.encode("utf-8"))
            h.update(b"\0")
            h.update(e.content_hash().encode("ascii"))
            h.update(b"\n")
        return h.hexdigest()

    def entry_hashes(self) -> dict[str, str]:
        return {e.id: e.content_hash() for e in self._entries}

    # -- changing --------------------------------------------------------
    def merged_with(self, incoming: list[Entry]) -> "AnswerBank":
        """A new bank where ``incoming`` entries replace same-id entries or are added.

        Raises :class:`BankError` if the result breaks a bank-wide rule, so the
        caller can refuse the whole import before anything is written.
        """
        by_id = dict(self._by_id)
        for e in incoming:
            by_id[e.id] = e
        merged = list(by_id.values())
        problems = check_bank(merged)
        if problems:
            raise BankError(problems)
        return AnswerBank(self.directory, merged)

    def replaced_by(self, incoming: list[Entry]) -> "AnswerBank":
        problems = check_bank(incoming)
        if problems:
            raise BankError(problems)
        return AnswerBank(self.directory, incoming)

    def save(self) -> list[Path]:
        """Write one file per domain; each file is replaced atomically.

        Returns the files that changed. Files of domains that no longer have
        entries are emptied rather than removed, so a domain's file never
        silently disappears from review.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        by_file: dict[Path, list[str]] = {}
        for e in self._entries:
            path = self.directory / f"{DOMAIN_BY_NAME[e.domain].slug}.jsonl"
            by_file.setdefault(path, []).append(entry_to_json(e))
        for path in self.directory.glob("*.jsonl"):
            by_file.setdefault(path, [])
        changed = []
        for path, lines in sorted(by_file.items()):
            content = "".join(line + "\n" for line in lines)
            if path.exists() and path.read_text(encoding="utf-8") == content:
                continue
            _atomic_write_text(path, content)
            changed.append(path)
        return changed


def _atomic_write_text(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
