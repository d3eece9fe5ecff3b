"""Dependency pinning: what the service runs on is named, bounded, from the package index only, and the
exact versions the tests passed with are recorded in `constraints.txt` (install them with
``pip install -c constraints.txt -e '.[test]'``).

`constraints.txt` holds the runtime dependencies of pyproject.toml and everything they pull in.
Regenerate it after a deliberate upgrade, once the tests pass:

    .venv/bin/python tests/security/test_dependencies.py --write
"""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def runtime_closure() -> dict[str, str]:
    """name -> installed version, for the runtime dependencies and everything they require."""
    seen: dict[str, str] = {}
    todo = [Requirement(r) for r in project()["dependencies"]]
    while todo:
        req = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist.version
        for sub in dist.requires or []:
            r = Requirement(sub)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(r)
    return seen


def read_constraints() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def write_constraints() -> None:
    lines = ["# Exact versions of the runtime dependencies (and what they pull in) that the test suite",
             "# passed with. Install: pip install -c constraints.txt -e '.[test]'",
             "# Regenerate after a deliberate upgrade: .venv/bin/python tests/security/test_dependencies.py --write"]
    lines += ["%s==%s" % kv for kv in sorted(runtime_closure().items())]
    CONSTRAINTS.write_text("\n".join(lines) + "\n")


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


def test_the_installed_runtime_is_the_recorded_one():
    """The runtime dependencies installed are exactly those of constraints.txt (the versions tested)."""
    if not CONSTRAINTS.exists():
        pytest.fail("constraints.txt is missing: run `%s %s --write`" % (sys.executable, __file__))
    pins, installed = read_constraints(), runtime_closure()
    assert set(installed) <= set(pins), "not recorded: %s (regenerate constraints.txt)" % sorted(set(installed) - set(pins))
    drift = {n: (pins[n], v) for n, v in installed.items() if pins[n] != v}
    assert not drift, "installed versions differ from constraints.txt (pinned, installed): %s" % drift


def test_pip_check_finds_no_broken_requirement():
    r = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_constraints()
        print("wrote %s (%d pins)" % (CONSTRAINTS, len(read_constraints())))
    else:
        raise SystemExit("usage: %s --write" % sys.argv[0])
