"""``python -m assistant.bank.check [FILE ...]``: validate bank JSONL files.

With no arguments it checks every file of the bundled bank. Prints each
problem and the entry count per domain; exits 1 when anything is wrong.
``govlive kb check`` is the same check for a configured bank.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from ..settings import BUNDLED_BANK_DIR
from .schema import Entry, Problem, check_bank
from .store import read_jsonl_entries


def check_files(paths: list[Path]) -> tuple[list[Entry], list[Problem]]:
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path in paths:
        file_entries, file_problems = read_jsonl_entries(path)
        entries.extend(file_entries)
        problems.extend(file_problems)
    problems.extend(check_bank(entries))
    return entries, problems


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(BUNDLED_BANK_DIR.glob("*.jsonl"))
    entries, problems = check_files(paths)
    for p in problems:
        print(p)
    for domain, n in sorted(Counter(e.domain for e in entries).items()):
        print(f"{domain}\t{n}")
    print(f"{len(entries)} valid entries, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
