"""Cells that a spreadsheet will not run: CSV/XLSX injection (CWE-1236).

Text that reaches an export can come from a viewer (a comment taken into the
bank through 答复并入库) or from anyone who edits the bank. Excel, WPS and
LibreOffice treat a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return as a formula (``=cmd|' /C calc'!A0``), so every text cell
written to a CSV or XLSX export goes through :func:`neutralise`, which puts a
``'`` in front, the convention spreadsheets themselves use for "this is text".
:func:`restore` removes exactly that prefix again on import, so that an
export, edit and import round trip changes nothing.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
