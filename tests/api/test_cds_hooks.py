"""CDS Hooks over real HTTP, on both store backends: discovery, synthetic FHIR records of different
shapes read into cards, missing prefetch read from a small FHIR file server on loopback, and
malformed calls answered as problems."""
from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B import get_fhir_model_class

from . import fhir_records as fx
from .conftest import TEXT, assert_problem

SERVICE = "/cds-services/amlkg-relapsed-refractory-aml"
QUOTE = re.compile(r"^> (.*)$", re.MULTILINE)


def post(api, body):
    return api.post(SERVICE, data=json.dumps(body), headers={"Content-Type": "application/json"})


def cards_for(api, name: str) -> list[dict]:
    r = post(api, fx.RECORDS[name])
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith("application/json")
    cards = r.json()["cards"]
    for card in cards:
        assert_card(card, api.base)
    return cards


def assert_card(card: dict, base: str) -> None:
    """The CDS Hooks 2.0 card shape, with the document's sentence, section, source and links."""
    assert 0 < len(card["summary"]) <= 140
    assert card["indicator"] in ("info", "warning")
    assert (card["indicator"] == "warning") == card["summary"].split(" — ")[0].endswith(": not likely helpful")
    quote = QUOTE.search(card["detail"]).group(1)
    assert quote in TEXT, quote
    section = re.search(r"\*\*Section:\*\* (.*?)\s*$", card["detail"], re.MULTILINE).group(1)
    assert "\n%s\n" % section in TEXT
    assert "**Open conditions:**" in card["detail"] and "Not medical advice" in card["detail"]
    assert "2022-12-01" in card["source"]["label"] and "Acute Myeloid Leukemia" in card["source"]["label"]
    assert card["source"]["url"].startswith(base + "/entity/")
    assert card["links"] and all(link["url"].startswith(base + "/entity/") and link["type"] == "absolute"
                                 for link in card["links"])


def therapies(cards) -> set[str]:
    return {c["summary"].split(":")[0].split(" (")[0].lower() for c in cards if c["indicator"] == "info"}


def card_of(cards, therapy: str) -> dict:
    found = [c for c in cards if c["summary"].lower().startswith(therapy)]
    assert found, (therapy, [c["summary"] for c in cards])
    return found[0]


#: the document's opening framing, a condition of every active treatment; no record here says whether the
#: patient is fit, so it stays open on their cards (`test_fitness_stays_open_on_every_active_option`)
FITNESS = "as long as a person is healthy enough for them"


def open_conditions(card) -> str:
    """The card's open conditions, less the opening framing (checked on its own)."""
    listed = re.search(r"\*\*Open conditions:\*\* (.*)", card["detail"]).group(1)
    rest = [c for c in listed.split("; ") if c not in (FITNESS, "none")]
    return "; ".join(rest) or "none"


# -- the records are valid FHIR (checked with the R4B models) ----------------------------------
@pytest.mark.parametrize("name", sorted(fx.RECORDS))
def test_every_synthetic_record_is_valid_fhir(name):
    for value in fx.RECORDS[name]["prefetch"].values():
        get_fhir_model_class(value["resourceType"]).model_validate(value)


# -- discovery ---------------------------------------------------------------------------------
def test_discovery_lists_a_patient_view_service_with_prefetch(api):
    body = api.json("/cds-services")
    service = next(s for s in body["services"] if s["id"] == SERVICE.rsplit("/", 1)[1])
    assert service["hook"] == "patient-view" and service["title"] and service["description"]
    prefetch = service["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    for kind in ("Condition", "Observation", "MedicationStatement"):
        assert any(t.startswith(kind + "?patient={{context.patientId}}") for t in prefetch.values()), kind


# -- records of different shapes ---------------------------------------------------------------
def test_flt3_present_relapse(api):
    cards = cards_for(api, "snomed-relapse-flt3-present")
    gilteritinib = card_of(cards, "gilteritinib")
    assert open_conditions(gilteritinib) == "none"
    assert "mutation FLT3 matches" in gilteritinib["detail"] and "status relapsed matches" in gilteritinib["detail"]
    # IDH1/IDH2 were never tested: their options stay, with the mutation open, and the card says so
    ivosidenib = card_of(cards, "ivosidenib")
    assert "IDH1 mutation" in open_conditions(ivosidenib)
    assert "no result for IDH1, IDH2 in the record" in ivosidenib["detail"]


def test_fitness_stays_open_on_every_active_option(api):
    """The record says nothing of fitness: the opening framing is an open condition on each active option."""
    cards = cards_for(api, "snomed-relapse-flt3-present")
    for therapy in ("gilteritinib", "ivosidenib", "stem cell transplant"):
        listed = re.search(r"\*\*Open conditions:\*\* (.*)", card_of(cards, therapy)["detail"]).group(1)
        assert FITNESS in listed.split("; "), (therapy, listed)


def test_refractory_from_an_ncit_code_with_idh1_in_genenames(api):
    cards = cards_for(api, "ncit-refractory-idh1")
    assert {"ivosidenib", "olutasidenib"} <= therapies(cards)
    assert "status refractory matches" in card_of(cards, "ivosidenib")["detail"]
    assert "gilteritinib" in therapies(cards)            # FLT3 not tested: left open
    assert "FLT3 mutation" in open_conditions(card_of(cards, "gilteritinib"))
    assert "age 76" in cards[0]["detail"] or "age: 76" in cards[0]["detail"]


def test_flt3_absent_settles_flt3_only(api):
    cards = cards_for(api, "three-systems-flt3-absent")
    assert "gilteritinib" not in therapies(cards)         # FLT3 tested Absent
    assert {"ivosidenib", "enasidenib"} <= therapies(cards)  # IDH1/IDH2 not tested: not claimed absent
    assert "IDH2 mutation" in open_conditions(card_of(cards, "enasidenib"))
    assert "variants: FLT3 absent" in cards[0]["detail"] and "status: relapsed" in cards[0]["detail"]


def test_apl_after_atra_and_arsenic_trioxide(api):
    cards = cards_for(api, "apl-after-atra-ato")
    details = "\n".join(c["detail"] for c in cards)
    assert "prior therapy: ATRA+ATO" in details and "disease: APL" in details
    assert not {"gilteritinib", "ivosidenib", "enasidenib"} & therapies(cards)
    assert any("prior therapy ATRA+ATO matches" in c["detail"] for c in cards)


def test_several_conditions_date_an_early_relapse(api):
    cards = cards_for(api, "several-conditions-early-relapse")
    details = "\n".join(c["detail"] for c in cards)
    assert "remission length (months): 4.2" in details
    assert not any("if remission lasted at least a year" in open_conditions(c) for c in cards)
    assert any("AML comes back sooner than 12 months" in c["detail"] and "remission (months) 4.2" in c["detail"]
               for c in cards)
    assert "symptoms: pain" in details                    # HPO bone pain read as a symptom
    assert "age: " in details                             # born in 1970: on the same side of 60 either way


def test_late_relapse_dated_by_a_remission_observation(api):
    cards = cards_for(api, "late-relapse-dated-by-observation")
    details = "\n".join(c["detail"] for c in cards)
    assert "remission length (months): 18.0" in details
    assert any("remission (months) 18" in c["detail"] for c in cards)
    assert "no birth date: age left open" in details


@pytest.mark.parametrize("name", ["no-aml", "refuted-aml"])
def test_no_aml_in_the_record_gives_no_cards(api, name):
    assert cards_for(api, name) == []


def test_status_left_open_is_said_on_the_cards(api):
    cards = cards_for(api, "status-open")
    assert cards
    assert all("does not say whether the AML came back" in c["detail"] for c in cards)
    # an option of only one status carries that status as an open condition
    assert any("(refractory; the record does not say)" in open_conditions(c) for c in cards)
    assert any("(relapsed; the record does not say)" in open_conditions(c) for c in cards)


def test_nested_bundles_and_single_resources(api):
    cards = cards_for(api, "nested-bundles")
    assert "enasidenib" in therapies(cards)
    assert open_conditions(card_of(cards, "enasidenib")) == "none"
    assert "status relapsed matches" in card_of(cards, "enasidenib")["detail"]


# -- missing prefetch: read from the EHR's FHIR server -----------------------------------------
class FhirFiles:
    """A small FHIR server over loopback serving fixed JSON answers by path and query."""

    def __init__(self, answers: dict[str, dict], token: str = "secret-token"):
        self.answers, self.token, self.seen = answers, token, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                outer.seen.append((self.path, self.headers.get("Authorization")))
                body = outer.answers.get(self.path)
                if self.headers.get("Authorization") != "Bearer " + outer.token:
                    self.send_response(401)
                    self.end_headers()
                    return
                if body is None:
                    body = {"resourceType": "Bundle", "type": "searchset", "total": 0}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/fhir" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_missing_prefetch_is_read_from_fhir_server_with_its_token(api):
    record = fx.RECORDS["snomed-relapse-flt3-present"]["prefetch"]
    page2 = "/fhir/Observation-page-2"
    answers = {"/fhir/Patient/p1": record["patient"],
               "/fhir/Condition?patient=p1": record["conditions"]}
    with FhirFiles(answers) as fhir:
        # the observations come in two pages, the second behind a next link on the same server
        answers["/fhir/Observation?patient=p1"] = {
            "resourceType": "Bundle", "type": "searchset", "entry": [],
            "link": [{"relation": "next", "url": fhir.url.rsplit("/fhir", 1)[0] + page2}]}
        answers[page2] = record["observations"]
        body = fx.call(None, fhirServer=fhir.url,
                       fhirAuthorization={"access_token": "secret-token", "token_type": "Bearer",
                                          "expires_in": 300, "scope": "patient/*.read", "subject": "amlkg"})
        r = post(api, body)
        assert r.status_code == 200, r.text[:500]
        paths = [p for p, _auth in fhir.seen]
        assert {"/fhir/Patient/p1", "/fhir/Condition?patient=p1", page2} <= set(paths)
        assert all(auth == "Bearer secret-token" for _p, auth in fhir.seen)
    cards = r.json()["cards"]
    for card in cards:
        assert_card(card, api.base)
    assert open_conditions(card_of(cards, "gilteritinib")) == "none"


def test_fhir_server_refusing_the_token_is_a_502_problem(api):
    with FhirFiles({}) as fhir:
        body = fx.call(None, fhirServer=fhir.url, fhirAuthorization={"access_token": "wrong", "token_type": "Bearer"})
        r = post(api, body)
    problem = assert_problem(r, 502)
    assert "HTTP 401" in problem["detail"]


def test_missing_prefetch_without_fhir_server_is_412(api):
    r = post(api, fx.call(None))
    problem = assert_problem(r, 412)
    assert "conditions" in problem["missing"]


# -- malformed calls ---------------------------------------------------------------------------
def test_malformed_calls_are_400_problems(api):
    r = api.post(SERVICE, data=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "body")
    no_hook = copy.deepcopy(fx.RECORDS["status-open"])
    del no_hook["hook"]
    assert_problem(post(api, no_hook), 400, "hook")
    assert_problem(post(api, {**fx.RECORDS["status-open"], "hook": "order-sign"}), 400, "hook")
    assert_problem(post(api, [1, 2]), 400, "body")
    assert_problem(post(api, {**fx.RECORDS["status-open"], "prefetch": [1]}), 400, "prefetch")
    assert_problem(post(api, fx.call(None, fhirServer="file:///etc/passwd")), 400, "fhirServer")


def test_invalid_fhir_resources_are_400_naming_them(api):
    broken = copy.deepcopy(fx.RECORDS["status-open"])
    del broken["prefetch"]["conditions"]["entry"][0]["resource"]["subject"]   # Condition.subject is 1..1
    problem = assert_problem(post(api, broken), 400)
    assert "Condition" in problem["detail"] and "subject" in problem["detail"]
    wrong_type = copy.deepcopy(fx.RECORDS["status-open"])
    wrong_type["prefetch"]["patient"] = {"resourceType": "NotAResource", "id": "x"}
    problem = assert_problem(post(api, wrong_type), 400)
    assert "NotAResource" in problem["detail"]
    bad_date = copy.deepcopy(fx.RECORDS["status-open"])
    bad_date["prefetch"]["patient"]["birthDate"] = "yesterday"
    problem = assert_problem(post(api, bad_date), 400)
    assert "birthDate" in problem["detail"]


def test_unknown_service_is_404(api):
    assert_problem(post_to(api, "/cds-services/nope", fx.RECORDS["status-open"]), 404)


def post_to(api, path, body):
    return api.post(path, data=json.dumps(body), headers={"Content-Type": "application/json"})


def test_fhir_server_url_stays_on_loopback_in_tests(api):
    """The fetcher follows next links only on the same server (no hop to another host)."""
    with FhirFiles({}) as fhir:
        answers = fhir.answers
        answers["/fhir/Condition?patient=p1"] = {
            "resourceType": "Bundle", "type": "searchset",
            "entry": fx.RECORDS["status-open"]["prefetch"]["conditions"]["entry"],
            "link": [{"relation": "next", "url": "http://[::1]:9/elsewhere"}]}
        r = post(api, fx.call(None, fhirServer=fhir.url, fhirAuthorization={"access_token": "secret-token"}))
        assert r.status_code == 200, r.text[:300]
        assert all(urlsplit(p).path.startswith("/fhir/") for p, _ in fhir.seen)
    assert r.json()["cards"]


# -- generated calls: never a 5xx --------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=12) | st.sampled_from(
    ["relapse", "91861009", "C92.02", "HGNC:3765", "LA9634-2", "1960", "2024-02-30", "Patient/p1", "#m"])
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)


def _mutate(resource, data):
    """A synthetic resource with one field dropped, replaced or added (often no longer valid FHIR)."""
    resource = copy.deepcopy(resource)
    target = resource
    if target.get("entry") and data.draw(st.booleans()):
        target = data.draw(st.sampled_from(target["entry"]))
        target = target.setdefault("resource", {})
    key = data.draw(st.sampled_from(sorted(target) + ["extra", "status", "code", "birthDate"]))
    action = data.draw(st.sampled_from(["drop", "replace", "keep"]))
    if action == "drop":
        target.pop(key, None)
    elif action == "replace":
        target[key] = data.draw(_JSON)
    return resource


@pytest.mark.backends("embedded")
@settings(max_examples=120, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_calls_never_get_a_server_error(api, data):
    body = copy.deepcopy(fx.RECORDS[data.draw(st.sampled_from(sorted(fx.RECORDS)))])
    prefetch = body["prefetch"]
    for key in data.draw(st.lists(st.sampled_from(sorted(prefetch)), max_size=2, unique=True)):
        prefetch[key] = _mutate(prefetch[key], data)
    if data.draw(st.booleans()):
        body[data.draw(st.sampled_from(["hook", "context", "prefetch", "hookInstance"]))] = data.draw(_JSON)
    r = post(api, body)
    assert r.status_code in (200, 400, 404, 412), (r.status_code, r.text[:300])
    if r.status_code == 200:
        for card in r.json()["cards"]:
            assert_card(card, api.base)
    else:
        assert r.headers["Content-Type"].startswith("application/problem+json")


def test_browsers_of_any_origin_may_call_the_service(api):
    """EHR apps run in browsers: discovery, the call and its preflight allow any origin, no credentials."""
    origin = {"Origin": "https://ehr.example"}
    preflight = api.session.options(api.base + SERVICE, timeout=30, headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"})
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    for r in (api.get("/cds-services", headers=origin), post(api, fx.RECORDS["no-aml"]), post(api, {"x": 1})):
        assert r.headers["Access-Control-Allow-Origin"] == "*" and "Access-Control-Allow-Credentials" not in r.headers
