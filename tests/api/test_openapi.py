"""/openapi.json: valid OpenAPI 3.1, generated (one operation per named query), rendered at /api/docs,
and a bounded schemathesis run against the live server with no 5xx."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from kg_service.named_queries import load_all

QUERIES = load_all()


@pytest.fixture(scope="session")
def spec(api) -> dict:
    r = api.get("/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_api_route_is_described(spec, app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.endpoint.startswith("api."):
            routes.add(rule.rule.replace("<path:entity_id>", "{id}").replace("<name>", "{name}"))
    described = set(spec["paths"])
    for route in routes:
        if route == "/api/queries/{name}":
            assert {"/api/queries/%s" % q for q in QUERIES} <= described
        else:
            assert route in described, route


def test_one_operation_per_named_query_from_its_header(spec):
    for q in QUERIES.values():
        op = spec["paths"]["/api/queries/%s" % q.name]["get"]
        assert op["summary"] == q.summary and op["x-amlkg-query-file"] == "queries/%s" % q.path.name
        names = {p["name"] for p in op["parameters"]}
        if "profile" in q.params:
            assert "status" in names and "mutations" in names
        else:
            assert names == set(q.params)
        assert {"200", "400"} <= set(op["responses"])
    symptom = next(p for p in spec["paths"]["/api/queries/supportive-care"]["get"]["parameters"]
                   if p["name"] == "symptom")
    assert "pain" in symptom["schema"]["enum"]  # code parameters take the graph's profile codes


def test_the_docs_page_renders_the_document(api, spec):
    r = api.get("/api/docs")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert "<script" not in page and "cdn" not in page.lower()  # plain HTML, nothing fetched
    for path in spec["paths"]:
        assert path in page
    assert "/api/queries/targeted-drugs?kind=IDHInhibitor" in page  # header examples become links
    assert "Not medical advice" in page


@pytest.mark.parametrize("path, mimetype", [("/openapi.json", "application/json"), ("/api/docs", "text/html")])
def test_the_document_and_its_page_revalidate_with_their_etag(api, path, mimetype):
    first = api.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Content-Type"].startswith(mimetype) and etag
    again = api.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "no-cache"
    assert api.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    if path == "/openapi.json":  # browsers' API tools on other origins read it
        assert first.headers["Access-Control-Allow-Origin"] == again.headers["Access-Control-Allow-Origin"] == "*"


# -- schemathesis ---------------------------------------------------------------------------------
# One hypothesis run per operation and generation mode, driven from a plain test (schemathesis's
# `from_fixture` does not run under pytest 9). Bounded: 40 examples each, no shrinking database.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 40


def operations(url: str):
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(live_server, mode):
    """Generated requests, valid and invalid, never get a 5xx; the statuses, media types and bodies
    are the documented ones."""
    session = requests.Session()
    ran = []
    for op in operations(live_server.url):
        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(session=session, checks=CHECKS)
        try:
            run()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # an operation without parameters has no invalid input
            continue
        ran.append(op.label)
    assert len(ran) >= (6 + len(QUERIES) if mode == GenerationMode.POSITIVE else 6)
