"""Named accounts: a token per person, so the audit says who did what.

``<data_dir>/accounts.json`` (file mode 0600) lists each account's name,
role (host, control, staff or admin), the rooms it may act on (none listed:
every room), when it was created, whether it is revoked, and the sha256 of
its token. The token itself is printed once by ``govlive accounts add`` and
never stored.

The running server rereads the file when it changes, so ``govlive accounts
revoke`` takes effect at the next request without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets as random_secrets
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from .secrets import ROLES as ACCOUNT_ROLES

log = logging.getLogger("govlive.accounts")

TOKEN_PREFIX = "gla_"


class Account(BaseModel):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+$")  # no control or bidi characters
    role: str
    rooms: list[str] | None = None  # None: every room
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: str
    revoked: bool = False
    revoked_at: str | None = None


class AccountsError(ValueError):
    pass


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def read_accounts(path: Path) -> list[Account]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        accounts = [Account.model_validate(a) for a in data.get("accounts", [])]
    except (ValueError, AttributeError, TypeError) as exc:
        raise AccountsError(f"{path} is not a valid accounts file: {exc}") from None
    for a in accounts:
        if a.role not in ACCOUNT_ROLES:
            raise AccountsError(f"{path}: account {a.name!r} has role {a.role!r}, not one of {', '.join(ACCOUNT_ROLES)}")
    return accounts


def write_accounts(path: Path, accounts: list[Account]) -> None:
    """Replace the file atomically, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".accounts-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"accounts": [a.model_dump() for a in accounts]}, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def add_account(path: Path, name: str, role: str, rooms: list[str] | None = None) -> tuple[Account, str]:
    """A new account and its token (shown once; only its sha256 is kept)."""
    name = name.strip()
    if role not in ACCOUNT_ROLES:
        raise AccountsError(f"role must be one of {', '.join(ACCOUNT_ROLES)}, not {role!r}")
    accounts = read_accounts(path)
    if any(a.name == name and not a.revoked for a in accounts):
        raise AccountsError(f"an account named {name!r} exists already (revoke it first to issue a new token)")
    token = TOKEN_PREFIX + random_secrets.token_urlsafe(32)
    try:
        account = Account(name=name, role=role, rooms=sorted(set(rooms)) if rooms else None, token_sha256=token_digest(token), created_at=_now())
    except ValueError:
        raise AccountsError(f"the name must be 1-40 characters, without control or direction characters: {name!r}") from None
    write_accounts(path, [*accounts, account])
    return account, token


def revoke_account(path: Path, name: str) -> int:
    """Revoke every live account called ``name``; how many were revoked."""
    accounts = read_accounts(path)
    revoked = 0
    for a in accounts:
        if a.name == name and not a.revoked:
            a.revoked, a.revoked_at = True, _now()
            revoked += 1
    if revoked:
        write_accounts(path, accounts)
    return revoked


class Accounts:
    """The server's view of accounts.json, reread whenever the file changes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._by_digest: dict[str, Account] = {}
        self._load(self._file_stamp())  # a broken file stops the start-up, with the reason

    def _file_stamp(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self, stamp: tuple | None) -> None:
        accounts = read_accounts(self.path) if stamp is not None else []
        self._by_digest = {a.token_sha256: a for a in accounts}
        self._stamp = stamp

    def lookup(self, token: str) -> Account | None:
        """The account holding ``token``, revoked or not (the caller refuses revoked ones)."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                try:
                    self._load(stamp)
                except AccountsError as exc:  # fail closed: no account token passes until the file is fixed
                    log.error("%s; account tokens are refused until it is fixed", exc)
                    self._by_digest, self._stamp = {}, stamp
        return self._by_digest.get(token_digest(token))
