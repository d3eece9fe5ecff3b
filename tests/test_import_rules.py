"""The import rules of pyproject.toml's [tool.importlinter] hold (lint-imports exits 0), and a broken
one is caught: the same rules over a copy of the code in which a store module imports Flask fail."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_import_rules_hold():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_a_store_module_importing_flask_breaks_a_rule(tmp_path):
    for package in ("kg_service", "loaders"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    base = tmp_path / "kg_service" / "store" / "base.py"
    base.write_text(base.read_text() + "\nimport flask  # a rule broken on purpose\n")
    r = lint(tmp_path, pythonpath=tmp_path)
    assert r.returncode != 0, r.stdout[-3000:]
    assert "The store imports no Flask and no HTTP layer BROKEN" in r.stdout
    assert "kg_service.store.base -> flask" in r.stdout


def test_the_store_and_the_build_load_without_flask():
    """At run time too: importing the store (and the build) does not import the web framework."""
    code = ("import sys, kg_service.store.embedded, kg_service.store.remote, kg_service.store.versions, "
            "loaders.build; print(sorted(m for m in ('flask', 'werkzeug', 'granian') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
