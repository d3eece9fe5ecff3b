"""One JSON-LD context for the vocabulary, served at /context.jsonld and used alike by the release file,
CONSTRUCT/DESCRIBE answers and entity pages; compact with `@type`, so a JSON-LD processor (PyLD) frames
every recommendation with its quote selector."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.conftest import SOURCE_TEXT

jsonld = pytest.importorskip("pyld.jsonld", reason="PyLD is in the test extra: pip install -e .[test]")

RECOMMENDATION_FRAME_KEYS = {"@type": "Recommendation",
                             "prov:wasDerivedFrom": {"oa:hasSelector": {"@type": "oa:TextQuoteSelector"}}}
COUNT_RECOMMENDATIONS = ("SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?r a <https://w3id.org/amlkg/Recommendation> }")


def served_context(url: str) -> dict:
    r = requests.get(url + "/context.jsonld", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/ld+json")
    assert r.headers.get("ETag")
    return r.json()["@context"]


def recommendation_count(url: str) -> int:
    r = requests.get(url + "/sparql", params={"query": COUNT_RECOMMENDATIONS},
                     headers={"Accept": "application/sparql-results+json"}, timeout=30)
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def frame_recommendations(doc: dict, context: dict) -> list[dict]:
    framed = jsonld.frame(doc, {"@context": context, **RECOMMENDATION_FRAME_KEYS})
    return framed.get("@graph", [framed] if "@id" in framed else [])


def quote_of(rec: dict) -> str:
    selectors = rec["prov:wasDerivedFrom"]["oa:hasSelector"]
    selectors = selectors if isinstance(selectors, list) else [selectors]
    (text,) = [s for s in selectors if "oa:exact" in s]
    return text["oa:exact"]


def test_release_file_frames_every_recommendation_with_its_quote(store_path, live_server):
    context = served_context(live_server.url)
    release = Path(store_path).parent / "release" / "amlkg.jsonld"
    doc = json.loads(release.read_text(encoding="utf-8"))
    assert doc["@context"] == context                         # the served context, embedded
    text = json.dumps(doc)
    assert '"rdf:type"' not in text and '"@type"' in text     # compact: types as @type
    recs = frame_recommendations(doc, context)
    assert len(recs) == recommendation_count(live_server.url) == 34
    source = SOURCE_TEXT.read_text(encoding="utf-8")
    for rec in recs:
        assert "Recommendation" in (rec["@type"] if isinstance(rec["@type"], list) else [rec["@type"]])
        assert quote_of(rec) in source, rec["@id"]           # the exact sentence of the document


def test_construct_answer_as_json_ld_uses_the_context_and_frames(live_server):
    context = served_context(live_server.url)
    query = ("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <https://w3id.org/amlkg/graph/acs2022> { ?s ?p ?o } }")
    r = requests.get(live_server.url + "/sparql", params={"query": query},
                     headers={"Accept": "application/ld+json"}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/ld+json")
    doc = r.json()
    assert doc["@context"] == context
    assert len(frame_recommendations(doc, context)) == 34
    # DESCRIBE too
    r = requests.post(live_server.url + "/sparql", data={"query": "DESCRIBE <https://w3id.org/amlkg/Ivosidenib>"},
                      headers={"Accept": "application/ld+json"}, timeout=60)
    assert r.status_code == 200 and r.json()["@context"] == context
    expanded = jsonld.expand(r.json())
    assert any(node["@id"] == "https://w3id.org/amlkg/Ivosidenib" for node in expanded)


def test_entity_page_json_ld_uses_the_same_context(live_server):
    context = served_context(live_server.url)
    r = requests.get(live_server.url + "/entity/Ivosidenib", headers={"Accept": "application/ld+json"}, timeout=30)
    assert r.status_code == 200
    doc = r.json()
    assert doc["@context"] == context
    nodes = jsonld.expand(doc)
    ivo = [node for node in nodes if node["@id"] == "https://w3id.org/amlkg/Ivosidenib"]
    assert ivo and "http://www.w3.org/2002/07/owl#Class" in ivo[0]["@type"]
