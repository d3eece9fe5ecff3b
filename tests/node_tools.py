"""The npm tools some tests drive (Redocly's CLI, axe-core), installed project-locally by `make node-deps`
(`npm ci` from the committed package-lock.json); a test skips, saying what to install, without them."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

NODE_MODULES = ROOT / "node_modules"


def node_module_file(relative: str, *, needs_node: bool = True) -> Path:
    """A file under node_modules/, or skip the test with the reason."""
    if needs_node and shutil.which("node") is None:
        pytest.skip("needs Node.js for %s (Debian: nodejs npm; `make system-deps` as root installs them)" % relative)
    path = NODE_MODULES / relative
    if not path.exists():
        pytest.skip("needs the npm tools in node_modules/ (%s): run `make node-deps` (npm ci)" % relative)
    return path


def quiet_node_env() -> dict:
    """The environment for a node tool: no telemetry, no update notices (the tests run offline)."""
    return {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
            "NO_UPDATE_NOTIFIER": "1", "CI": "true"}
