"""Dependency pinning: what the service runs on is named, bounded, from the package index only, and
installed from `requirements.lock`: every package of every extra at an exact version with its hashes
(`make` installs it with ``pip install --require-hashes``), so a release published tomorrow cannot
change what a clean clone runs. Refresh it deliberately with ``make lock``, then run the tests.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;.*?)?\s*\\?$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def read_lock() -> dict[str, str]:
    """name -> version of every pin in the lock file."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def installed() -> dict[str, str]:
    """name -> version of every distribution in this environment, but the project itself."""
    found = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    found.pop("amlkg", None)
    return found


def test_every_dependency_is_bounded_and_from_the_index():
    """No unbounded, URL or VCS dependency: a release of any of them cannot slip in unreviewed from
    outside the index, and each has a floor the code was written against."""
    deps = list(project()["dependencies"])
    for extra in project().get("optional-dependencies", {}).values():
        deps += extra
    for spec in deps:
        req = Requirement(spec)
        assert req.url is None, "%s: install from the package index, not a URL" % spec
        assert any(s.operator in (">=", "==", "~=") for s in req.specifier), "%s has no lower bound" % spec


def test_every_pin_of_the_lock_carries_a_hash():
    """`pip install --require-hashes` refuses a lock with an unhashed pin; check it before a clean clone does."""
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    pinned = [b for b in blocks if PIN.match(b.splitlines()[0].strip())]
    assert len(pinned) == len(read_lock()) > 50
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]
    assert "file:" not in text and " @ " not in text, "the lock names a local file or URL"


def test_the_lock_covers_every_declared_dependency():
    """Each dependency of pyproject.toml (every extra) is pinned in the lock at a version it allows."""
    pins = read_lock()
    deps = list(project()["dependencies"])
    for extra in project().get("optional-dependencies", {}).values():
        deps += extra
    for spec in deps:
        req = Requirement(spec)
        name = canonical(req.name)
        assert name in pins, "%s is not in requirements.lock: run `make lock`" % req.name
        assert req.specifier.contains(pins[name], prereleases=True), "%s: locked %s" % (spec, pins[name])


def test_the_installed_environment_is_the_locked_one():
    """What is installed is exactly what the lock pins: nothing missing, nothing drifted, nothing extra."""
    pins, have = read_lock(), installed()
    missing = sorted(set(pins) - set(have))
    drift = {n: (pins[n], have[n]) for n in pins.keys() & have.keys() if pins[n] != have[n]}
    extra = sorted(set(have) - set(pins) - {"pip"})
    assert not missing, "locked but not installed: %s (run `make install`)" % missing
    assert not drift, "installed versions differ from requirements.lock (locked, installed): %s" % drift
    assert not extra, "installed but not locked: %s (add it to pyproject.toml and run `make lock`)" % extra


def test_pip_check_finds_no_broken_requirement():
    r = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
