"""A clean copy of the project installs from `requirements.lock` alone, the way `make` does on a fresh
clone, and the environment it makes is exactly the locked one: tomorrow's PyPI cannot break it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tracked_files() -> list[str]:
    r = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip("not a git checkout: nothing to copy as a clean clone")
    return [f for f in r.stdout.split("\0") if f]


@pytest.mark.timeout(900)
def test_a_clean_copy_installs_from_the_lock_alone(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("needs make (Debian package make)")
    clone = tmp_path / "clone"
    for name in tracked_files():
        src = REPO / name
        if src.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / name)
    base_python = getattr(sys, "_base_executable", None) or shutil.which("python3")
    r = subprocess.run(["make", "install", "PYTHON=%s" % base_python], cwd=clone, capture_output=True,
                       text=True, timeout=840)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "--require-hashes" in r.stdout, "make must install from the lock with hashes"
    assert "project.license" not in r.stdout + r.stderr, "the install warns about our pyproject.toml"
    # nothing of ours warns: no setuptools deprecation, no editable-install notice (a plain .pth install)
    assert "Warning" not in r.stdout + r.stderr and "!!" not in r.stderr, r.stdout[-3000:] + r.stderr[-3000:]
    # the fresh environment is the locked one, checked by the same test the suite runs
    check = subprocess.run([str(clone / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/security/test_dependencies.py"], cwd=clone, capture_output=True, text=True,
                           timeout=300)
    assert check.returncode == 0, check.stdout[-3000:]
    code = subprocess.run([str(clone / ".venv/bin/python"), "-c", "import kg_service, sys; print(kg_service.__file__)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert code.stdout.strip() == str(clone / "kg_service/__init__.py"), code.stdout + code.stderr
