"""The type of every integer id a client puts in a path.

SQLite keeps integer keys in 64 bits; a larger number in a URL would make the
driver raise OverflowError (a 500). Bounding the id here turns it into a 422
that says what is allowed, before any handler runs.
"""

from typing import Annotated

from fastapi import Path

SQLITE_MAX_INTEGER = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="row id (1 … 2⁶³−1)")]
