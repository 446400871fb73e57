"""Check that requirements.lock and pyproject.toml agree, and (with --installed) that
the environment holds exactly the locked versions of everything govlive[test] needs.

Run by .ci/run before and after installing. It fails when a dependency was added to or
changed in pyproject.toml without refreshing the lock (`bash .ci/refresh-lock`), when
the lock pins something nothing needs any more, or when an install drifted from the lock.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # before anything is installed: pip's own copy
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("test",)
LOCK_INPUTS = (ROOT / "requirements" / "torch-cpu.in",)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        if not m:
            raise SystemExit(f"{path.name}:{number}: not an exact pin: {line!r}")
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    for path in LOCK_INPUTS:
        lines += [l.split("#", 1)[0].strip() for l in path.read_text(encoding="utf-8").splitlines()]
    return [Requirement(l) for l in lines if l]


def check_declared(pins: dict[str, str]) -> list[str]:
    problems = []
    for req in declared():
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req} is in pyproject.toml but not in requirements.lock")
        elif not req.specifier.contains(Version(pins[name]), prereleases=True):
            problems.append(f"requirements.lock pins {req.name}=={pins[name]}, which pyproject.toml's {req} does not allow")
    return problems


def check_installed(pins: dict[str, str]) -> list[str]:
    """Walk govlive[test]'s requirements through the installed metadata."""
    from importlib import metadata

    problems, seen = [], set()
    environment = default_environment()
    queue = [(r, ()) for r in declared()]
    while queue:
        req, extras = queue.pop()
        if req.marker is not None and not any(req.marker.evaluate({**environment, "extra": e}) for e in (extras or ("",))):
            continue
        name = canonicalize_name(req.name)
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name} is required but not installed")
            continue
        if name not in pins:
            problems.append(f"{req.name} {dist.version} is installed and required, but requirements.lock does not pin it")
        elif Version(dist.version) != Version(pins[name]):
            problems.append(f"{req.name} {dist.version} is installed; requirements.lock pins {pins[name]}")
        for sub in dist.requires or []:
            queue.append((Requirement(sub), tuple(req.extras)))
    needed = {name for name, _ in seen}
    for name in sorted(set(pins) - needed):
        problems.append(f"requirements.lock pins {name}=={pins[name]}, which nothing in govlive[test] needs any more")
    return problems


def main(argv: list[str]) -> int:
    pins = read_lock(ROOT / "requirements.lock")
    problems = check_declared(pins)
    if "--installed" in argv:
        problems += check_installed(pins)
    for p in problems:
        print(f"lock check: {p}", file=sys.stderr)
    if problems:
        print("lock check: refresh the lock with `bash .ci/refresh-lock`, then run `bash .ci/run`", file=sys.stderr)
        return 1
    print(f"lock check: requirements.lock ({len(pins)} pins) agrees with pyproject.toml"
          + (" and the installed packages" if "--installed" in argv else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
