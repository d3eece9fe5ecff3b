"""An app developer's generated client works: openapi-python-client (the real generator, from the test
extra) builds a Python client from the live /openapi.json, and EVERY operation of the document is called
through it against the live server and parsed back; `mutations=none` ("tested, none found") travels
through the generated enum, which an empty list cannot (httpx drops it)."""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytest.importorskip("openapi_python_client", reason="openapi-python-client is in the test extra")


@pytest.fixture(scope="module")
def generated(embedded_live_server, tmp_path_factory):
    """(the generated package, the spec) for the live server."""
    root = tmp_path_factory.mktemp("generated-client")
    spec = requests.get(embedded_live_server.url + "/openapi.json", timeout=30).json()
    (root / "openapi.json").write_text(json.dumps(spec))
    bindir = str(Path(sys.executable).parent)
    exe = shutil.which("openapi-python-client", path=bindir) or shutil.which("openapi-python-client")
    r = subprocess.run([exe, "generate", "--path", "openapi.json", "--meta", "none", "--output-path", "amlkg_client"],
                       cwd=root, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stdout + r.stderr, r.stdout + r.stderr   # every schema generated
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module("amlkg_client")
        yield package, spec
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "amlkg_client" or m.startswith("amlkg_client.")]:
            del sys.modules[name]


def snake(operation_id: str) -> str:
    out = ""
    for ch in operation_id:
        out += ("_" + ch.lower()) if ch.isupper() else ch
    return out.replace("-", "_")


def operations(spec: dict) -> dict[str, tuple[str, str, dict]]:
    return {snake(op["operationId"]): (method, path, op) for path, ops in spec["paths"].items()
            for method, op in ops.items()}


def module_for(package, tag: str, name: str):
    return importlib.import_module("%s.api.%s.%s" % (package.__name__, snake(tag).replace(" ", "_"), name))


def arguments(m) -> dict:
    """What each operation is called with (the generated enums and models, as an app would)."""
    return {
        "find_options": {"status": m.FindOptionsStatus.RELAPSED, "mutations": [m.FindOptionsMutationsItemType0.NONE]},
        "find_options_post": {"body": m.Profile(status=m.ProfileStatus.RELAPSED,
                                                mutations=[m.ProfileMutationsItemType0.NONE])},
        "ask": {"q": "options for IDH1+ relapse"},
        "list_queries": {},
        "query_entity": {"entity": "Ivosidenib"},
        "query_options": {"status": m.QueryOptionsStatus.REFRACTORY, "mutations": ["FLT3"]},
        "get_entity": {"id": "Ivosidenib"},
        "search": {"q": "tibsovo", "limit": 5},
        "docs": {},
    }


def test_every_operation_round_trips_through_the_generated_client(generated, embedded_live_server):
    package, spec = generated
    m = importlib.import_module(package.__name__ + ".models")
    client = package.Client(base_url=embedded_live_server.url, raise_on_unexpected_status=True)
    args = arguments(m)
    ops = operations(spec)
    assert len(ops) >= 10
    for name, (method, path, op) in sorted(ops.items()):
        module = module_for(package, op["tags"][0], name)
        response = module.sync_detailed(client=client, **args.get(name, {}))
        assert response.status_code == 200, (name, response.content[:300])
        if name == "docs":
            assert b"<html" in response.content.lower()
            continue
        parsed = response.parsed
        assert parsed is not None and hasattr(parsed, "to_dict"), name
        # the model holds the whole answer: back to JSON, it is what the server sent
        assert parsed.to_dict() == json.loads(response.content), name


def test_no_mutations_found_travels_through_the_generated_enum(generated, embedded_live_server):
    package, _ = generated
    m = importlib.import_module(package.__name__ + ".models")
    from_module = importlib.import_module(package.__name__ + ".api.options.find_options")
    client = package.Client(base_url=embedded_live_server.url)
    none_found = from_module.sync(client=client, status=m.FindOptionsStatus.RELAPSED,
                                  mutations=[m.FindOptionsMutationsItemType0.NONE])
    unknown = from_module.sync(client=client, status=m.FindOptionsStatus.RELAPSED,
                               mutations=[m.FindOptionsMutationsItemType0.UNKNOWN])
    absent = from_module.sync(client=client, status=m.FindOptionsStatus.RELAPSED)
    idh1 = from_module.sync(client=client, status=m.FindOptionsStatus.RELAPSED, mutations=["IDH1"])
    assert none_found.profile.to_dict()["mutations"] == []
    assert "mutations" not in unknown.profile.to_dict() and "mutations" not in absent.profile.to_dict()
    assert [o.recommendation for o in unknown.options] == [o.recommendation for o in absent.options]
    # none found: the mutation-specific options are gone, not left open
    assert len(none_found.options) < len(absent.options)
    assert {o.recommendation for o in none_found.options} < {o.recommendation for o in absent.options}
    assert any("ivosidenib" in o.therapy.label for o in idh1.options)
    assert not any("ivosidenib" in o.therapy.label for o in none_found.options)
    # the same over plain HTTP: the word and an empty JSON list mean the same
    plain = requests.get(embedded_live_server.url + "/api/options", params={"status": "relapsed", "mutations": "none"},
                         timeout=30).json()
    posted = requests.post(embedded_live_server.url + "/api/options", json={"status": "relapsed", "mutations": []},
                           timeout=30).json()
    assert [o["recommendation"] for o in plain["options"]] == [o["recommendation"] for o in posted["options"]] \
        == [o.recommendation for o in none_found.options]
