"""The pages for people, through the Flask test client: the options finder form and its cards, the
question box, entity pages with content negotiation, and the pathway picture."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import pytest
import rdflib
from rdflib import RDFS, URIRef

from kg_service.options import OptionsFinder, parse_profile
from tests.conftest import SOURCE_TEXT

AMLKG = "https://w3id.org/amlkg/"
SVG = "{http://www.w3.org/2000/svg}"
PREFIXES = """PREFIX amlkg: <https://w3id.org/amlkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""


class Page(HTMLParser):
    """The parts of a page the tests look at: links, inputs, marks, text, ids."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.links, self.inputs, self.marks, self.ids, self.text = [], [], [], set(), []
        self._in_mark = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag in ("input", "select"):
            self.inputs.append(a)
        if tag == "mark":
            self._in_mark += 1
            self.marks.append("")

    def handle_endtag(self, tag):
        if tag == "mark":
            self._in_mark -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self._in_mark:
            self.marks[-1] += data

    @property
    def plain(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))


def finder_answer(store, **raw):
    return OptionsFinder(lambda: store).find(parse_profile(raw))


# -- the options finder ------------------------------------------------------------------------------
def test_home_shows_the_form_the_question_box_and_the_disclaimer(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = Page(r.get_data(as_text=True))
    assert "Not medical advice." in page.plain
    names = {i.get("name") for i in page.inputs}
    assert {"q", "disease", "status", "mutations", "remission_months", "age", "prior_therapy", "site",
            "symptoms"} <= names
    # every input has a label: an id a <label for> points at, or it sits inside a <label>
    html = r.get_data(as_text=True)
    for i in page.inputs:
        if i.get("type") in ("radio", "checkbox"):
            continue
        assert 'for="%s"' % i["id"] in html, i
    assert "<svg" in html and "Treatment pathway" in html
    assert 'lang="en"' in html and 'name="viewport"' in html


def test_mutation_checkboxes_come_from_the_graph(client, store):
    genes = {str(r["code"]) for r in store.select(PREFIXES + """
        SELECT ?code WHERE { ?c amlkg:profileCode ?code ; rdfs:subClassOf+ amlkg:GeneMutation }""")}
    assert genes == {"FLT3", "IDH1", "IDH2"}
    page = Page(client.get("/").get_data(as_text=True))
    boxes = {i["value"] for i in page.inputs if i.get("name") == "mutations"}
    assert boxes == genes | {"none"}


def test_idh1_relapse_shows_ivosidenib_with_its_quote_highlighted(client, store):
    r = client.get("/?disease=AML&status=relapsed&mutations=IDH1&site=marrow")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    page = Page(html)
    answer = finder_answer(store, status="relapsed", mutations="IDH1")
    ivo = next(o for o in answer["options"] if o["therapy"]["label"] == "ivosidenib")
    assert 'data-therapy="ivosidenib"' in html and "Tibsovo" in page.plain and "IDH1 inhibitor" in page.plain
    assert ivo["source"]["quote"] in page.marks
    # one card per option of the finder, in its order
    assert re.findall(r'data-therapy="([^"]+)"', html) == [o["therapy"]["label"] for o in answer["options"]]
    assert "/entity/Ivosidenib" in page.links
    assert "/entity/acs2022-idh1-ivosidenib" in page.links
    # the form keeps the profile, so the answer can be refined
    checked = [i for i in page.inputs if i.get("name") == "mutations" and "checked" in i]
    assert [i["value"] for i in checked] == ["IDH1"]


def test_every_card_quote_is_marked_in_its_section_text(client, store):
    r = client.get("/?status=refractory")
    page = Page(r.get_data(as_text=True))
    text = SOURCE_TEXT.read_text(encoding="utf-8")
    answer = finder_answer(store, status="refractory")
    assert answer["options"]
    for option in answer["options"]:
        assert option["source"]["quote"] in page.marks
    for mark in page.marks:
        assert mark in text


def test_the_sparql_link_runs_the_query_that_produced_the_answer(client, store):
    html = client.get("/?status=relapsed&mutations=IDH1&age=45").get_data(as_text=True)
    page = Page(html)
    links = [link for link in page.links if link.startswith("/sparql?")]
    assert links, "no link to the SPARQL query page"
    query = parse_qs(urlparse(links[0]).query)["query"][0]
    assert "<https://w3id.org/amlkg/IDH1Mutation>" in query
    rows = store.select(query)
    unmet = {str(r["recommendation"]) for r in rows if str(r["state"]) == "unmet"}
    found = {str(r["recommendation"]) for r in rows} - unmet
    answer = finder_answer(store, status="relapsed", mutations="IDH1", age=45)
    assert found == {o["recommendation"] for o in answer["options"]}
    # each card links to the query of its own recommendation, which runs too
    card_query = parse_qs(urlparse(links[1]).query)["query"][0]
    assert len(store.select(card_query)) == 1


def test_the_share_link_reproduces_the_answer(client):
    html = client.get("/?status=relapsed&mutations=IDH1&mutations=FLT3&symptoms=pain").get_data(as_text=True)
    share = next(link for link in Page(html).links if link.startswith("/?") and "status=relapsed" in link)
    again = client.get(share.replace("&amp;", "&"))
    assert again.status_code == 200
    cards = re.findall(r'data-therapy="([^"]+)"', html)
    assert re.findall(r'data-therapy="([^"]+)"', again.get_data(as_text=True)) == cards
    assert "gilteritinib" in cards and "ivosidenib" in cards and "radiation therapy" in cards


def test_mutations_none_means_tested_and_none_found(client, store):
    html = client.get("/?status=relapsed&mutations=none").get_data(as_text=True)
    cards = re.findall(r'data-therapy="([^"]+)"', html)
    assert "ivosidenib" not in cards and "gilteritinib" not in cards
    assert cards == [o["therapy"]["label"] for o in finder_answer(store, status="relapsed", mutations=[])["options"]]


@pytest.mark.parametrize("query, fields", [
    ("status=gone", {"status"}),
    ("disease=AML&site=marrow", {"status"}),
    ("status=relapsed&age=-3", {"age"}),
    ("status=relapsed&age=forty", {"age"}),
    ("status=relapsed&age=45.5", {"age"}),
    ("status=relapsed&remission_months=NaN", {"remission_months"}),
    ("status=relapsed&remission_months=1e999", {"remission_months"}),
    ("status=relapsed&mutations=IDH1&mutations=none", {"mutations"}),
    ("status=relapsed&mutations=%3Cscript%3E", {"mutations"}),
    ("status=relapsed&symptoms=itch", {"symptoms"}),
    ("status=relapsed&prior_therapy=magic", {"prior_therapy"}),
    ("status=relapsed&site=moon&disease=CML", {"site", "disease"}),
])
def test_bad_form_input_shows_the_form_again_with_the_errors(client, query, fields):
    r = client.get("/?" + query)
    assert r.status_code == 400 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    page = Page(html)
    assert "Please check" in page.plain
    for f in fields:
        assert "err-%s" % f in page.ids or 'href="#f-%s"' % f in html, f
    assert "<script>" not in html  # what was typed is escaped
    assert "data-therapy=" not in html


def test_odd_input_never_fails(client):
    for query in ["q=" + "x" * 600, "q=%00%ff", "status=relapsed&age=" + "9" * 400, "status=relapsed&utm=1",
                  "mutations=,,,&status=relapsed", "status=REFRACTORY&disease=apl", "q=%F0%9F%A9%B8"]:
        r = client.get("/?" + query)
        assert r.status_code in (200, 400), (query, r.status_code)
        assert r.mimetype == "text/html"


# -- the question box ----------------------------------------------------------------------------------
def test_a_question_is_answered_on_the_page(client):
    r = client.get("/?q=options+for+IDH1%2B+relapse")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    page = Page(html)
    assert "Understood:" in page.plain
    assert 'data-therapy="ivosidenib"' in html
    checked = {(i["name"], i["value"]) for i in page.inputs if "checked" in i}
    assert ("status", "relapsed") in checked and ("mutations", "IDH1") in checked


def test_a_question_without_a_situation_says_what_is_missing(client):
    r = client.get("/?q=is+gilteritinib+any+good")
    assert r.status_code == 200
    page = Page(r.get_data(as_text=True))
    assert "refractory" in page.plain and "relapsed" in page.plain
    assert "data-therapy=" not in r.get_data(as_text=True)
    assert "/entity/Gilteritinib" in page.links


# -- entity pages --------------------------------------------------------------------------------------
def test_entity_page_shows_labels_brand_xrefs_recommendations_and_approvals(client):
    r = client.get("/entity/Ivosidenib", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "Accept" in [v.strip() for v in r.headers["Vary"].split(",")]  # (and Accept-Encoding: compressible)
    page = Page(r.get_data(as_text=True))
    assert "ivosidenib" in page.plain and "Tibsovo" in page.plain and "IDH1 inhibitor" in page.plain
    assert "https://go.drugbank.com/drugs/DB14568" in page.links
    assert "/entity/acs2022-idh1-ivosidenib" in page.links
    assert "FDA approvals" in page.plain and "2018-07-20" in page.plain


def test_recommendation_page_shows_its_conditions_and_quote(client, store):
    page = Page(client.get("/entity/acs2022-idh1-ivosidenib").get_data(as_text=True))
    assert "if the leukemia cells have an IDH1 mutation" in page.plain
    assert any("ivosidenib (Tibsovo)" in m for m in page.marks)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # rdflib's JSON-LD parser uses ConjunctiveGraph
@pytest.mark.parametrize("accept, fmt", [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                                         ("application/n-triples", "nt"), ("application/rdf+xml", "xml")])
def test_entity_iris_dereference_as_linked_data(client, accept, fmt):
    r = client.get("/entity/Ivosidenib", headers={"Accept": accept})
    assert r.status_code == 200 and r.mimetype == accept
    g = rdflib.Graph().parse(data=r.get_data(as_text=True), format=fmt)
    ivo = URIRef(AMLKG + "Ivosidenib")
    assert (ivo, RDFS.label, rdflib.Literal("ivosidenib", lang="en")) in g
    assert (ivo, URIRef("http://www.w3.org/2004/02/skos/core#exactMatch"),
            URIRef("https://go.drugbank.com/drugs/DB14568")) in g
    assert (URIRef(AMLKG + "acs2022-idh1-ivosidenib"), URIRef(AMLKG + "recommends"), ivo) in g


def test_entity_format_parameter_and_browser_accept(client):
    assert client.get("/entity/Ivosidenib?format=turtle").mimetype == "text/turtle"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
    assert client.get("/entity/Ivosidenib", headers={"Accept": browser}).mimetype == "text/html"
    assert client.get("/entity/Ivosidenib?format=csv").status_code == 400
    r = client.get("/entity/Ivosidenib", headers={"Accept": "image/png"})
    assert r.status_code == 406 and r.mimetype == "application/problem+json"


def test_unknown_entities_are_404(client):
    r = client.get("/entity/NoSuchThing", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "NoSuchThing" in r.get_data(as_text=True)
    r = client.get("/entity/NoSuchThing", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    for bad in ["..%2F..%2Fetc", "a%20b", "%3Cx%3E", "x" * 300]:
        assert client.get("/entity/" + bad).status_code == 404


def test_every_entity_linked_from_an_answer_page_resolves(client):
    html = client.get("/?status=relapsed&mutations=IDH1&symptoms=pain").get_data(as_text=True)
    targets = sorted({link for link in Page(html).links if link.startswith("/entity/")})
    assert len(targets) > 10
    for link in targets:
        assert client.get(link).status_code == 200, link


# -- the pathway picture -------------------------------------------------------------------------------
def _svg(client, query=""):
    r = client.get("/pathway.svg" + query)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    return r, ET.fromstring(r.data)


def _texts(root) -> str:
    return " ".join(" ".join(t.itertext()) for t in root.iter(SVG + "text"))


def test_pathway_is_valid_svg_naming_every_therapy_of_the_document(client, store):
    _r, root = _svg(client)
    assert root.tag == SVG + "svg" and root.get("role") == "group"  # it holds links: not an img (axe nested-interactive)
    assert root.find(SVG + "title") is not None and root.find(SVG + "desc") is not None
    text = _texts(root)
    therapies = {str(r["l"]) for r in store.select(PREFIXES + """
        SELECT DISTINCT ?l WHERE { ?r a amlkg:Recommendation ; amlkg:recommends/rdfs:label ?l }""")}
    recs = {str(r["r"]) for r in store.select(PREFIXES + "SELECT ?r WHERE { ?r a amlkg:Recommendation }")}
    for label in therapies:
        assert label in text, label
    drawn = {n.get("data-recommendation") for n in root.iter() if n.get("data-recommendation")}
    assert drawn == recs
    for strength in ("advised", "option", "not likely helpful"):
        assert strength in text  # the legend, and each option node, name the strength in words


def test_every_option_node_names_its_therapy(client, store):
    _r, root = _svg(client)
    labels = {}
    for r in store.select(PREFIXES + "SELECT ?r ?l WHERE { ?r amlkg:recommends/rdfs:label ?l }"):
        labels.setdefault(str(r["r"]), set()).add(str(r["l"]))
    for node in root.iter():
        rec = node.get("data-recommendation")
        if rec:
            text = " ".join(" ".join(t.itertext()) for t in node.iter(SVG + "text"))
            assert all(label in text for label in labels[rec]), (rec, text)


def test_pathway_for_a_profile_highlights_the_options_found(client, store):
    _r, root = _svg(client, "?status=relapsed&mutations=IDH1")
    answer = finder_answer(store, status="relapsed", mutations="IDH1")
    taken = {n.get("data-recommendation") for n in root.iter()
             if n.get("data-recommendation") and "taken" in n.get("class", "").split()}
    assert taken == {o["recommendation"] for o in answer["options"]}
    text = _texts(root)
    assert "ivosidenib" in text and "Treatment for acute promyelocytic leukemia" not in text
    # the picture for an APL profile is another sub-diagram
    _r, apl = _svg(client, "?disease=APL&status=relapsed&prior_therapy=ATRA%2Bchemo")
    assert "arsenic trioxide" in _texts(apl) and "ivosidenib" not in _texts(apl)


def test_pathway_links_options_to_entity_pages(client):
    _r, root = _svg(client)
    hrefs = {a.get("href") for a in root.iter(SVG + "a")}
    assert "/entity/Ivosidenib" in hrefs and all(h.startswith("/entity/") for h in hrefs)


@pytest.mark.parametrize("query", ["?status=bad", "?mutations=IDH1", "?status=relapsed&age=-1", "?colour=red",
                                   "?status=relapsed&mutations=%3Cx%3E"])
def test_pathway_bad_parameters_are_problems(client, query):
    r = client.get("/pathway.svg" + query)
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == 400 and body["errors"]


def test_pathway_is_cached_by_etag(client):
    r, _root = _svg(client, "?status=refractory")
    again = client.get("/pathway.svg?status=refractory", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_static_files_are_served_locally(client):
    html = client.get("/").get_data(as_text=True)
    resources = re.findall(r'<(?:link|script|img|iframe|object)\b[^>]*(?:href|src|data)="([^"]*)"', html)
    assert resources and all(url.startswith("/") and not url.startswith("//") for url in resources), resources
    assert client.get("/ui/static/style.css").status_code == 200


def test_the_form_takes_issue_16s_fields_and_shows_what_is_outside_a_usual_bound(client):
    """Bounds, genes tested negative and the yes/no fields from the form; a transplant statement the
    profile falls outside is kept and said to be outside, and the form shows what was chosen."""
    r = client.get("/?status=relapsed&absent_mutations=FLT3&fit=true&age=%3E60&remission_months=%3E%3D12"
                   "&prior_transplant=true")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Outside the usual bound" in page and "generally" in page
    assert 'name="absent_mutations" value="FLT3" checked' in page and "no FLT3 mutation" in page
    assert 'name="fit" value="true" checked' in page and 'value="&gt;60"' in page
    assert 'data-therapy="gilteritinib"' not in page
    unfit = client.get("/?status=relapsed&mutations=IDH1&fit=false").get_data(as_text=True)
    assert 'data-therapy="ivosidenib"' not in unfit and 'data-therapy="supportive care"' in unfit
