"""/openapi.json is clean under Redocly's `recommended` rules (the real `@redocly/cli`, from node_modules)
and still valid under openapi-spec-validator."""
from __future__ import annotations

import json
import subprocess

import requests
from openapi_spec_validator import validate

from tests.node_tools import node_module_file, quiet_node_env


def test_openapi_is_clean_under_redocly_recommended_and_valid(embedded_live_server, tmp_path):
    cli = node_module_file("@redocly/cli/bin/cli.js")
    spec = requests.get(embedded_live_server.url + "/openapi.json", timeout=30).json()
    validate(spec)  # openapi-spec-validator: raises on an invalid document
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(spec))
    r = subprocess.run(["node", str(cli), "lint", "--extends", "recommended", "--format", "json", str(path)],
                       capture_output=True, text=True, timeout=240, env=quiet_node_env(), cwd=tmp_path)
    report = json.loads(r.stdout[r.stdout.index("{"):])
    problems = ["%s %s: %s" % (p["severity"], p["ruleId"], p["message"]) for p in report["problems"]]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, problems
    assert r.returncode == 0, r.stderr[-2000:]
    # the enum a generated client needs to say "no mutations found"
    params = {p["name"]: p for p in spec["paths"]["/api/options"]["get"]["parameters"]}
    words = [s for s in params["mutations"]["schema"]["items"]["anyOf"] if "enum" in s]
    assert words and set(words[0]["enum"]) == {"none", "unknown"}
