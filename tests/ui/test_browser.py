"""The pages in a real browser: headless Chromium (Debian package `chromium`) driven by Playwright,
against the real server. Screenshots are written to test-artifacts/ for people to look at.

Playwright's own browser downloads are never used: the Debian browser at /usr/bin/chromium is.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip("headless browser tests need the Debian package `chromium` at %s (install it with "
                "`apt-get install -y chromium`%s)" % (CHROMIUM, "" if os.geteuid() == 0 else " as root, or run "
                "`make test` as root, which does"), allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, live_server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, base_url=live_server.url)
    pg = ctx.new_page()
    pg.set_default_timeout(15000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    expected = re.compile(r"Failed to load resource: the server responded with a status of 400")  # the form's own
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and not expected.search(m.text) else None)
    yield pg
    ctx.close()
    assert not errors, errors


def shot(page, name: str, **kw) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / ("%s.png" % name)
    page.screenshot(path=str(path), **kw)
    assert path.stat().st_size > 5000
    return path


def test_fill_the_form_for_idh1_relapse_and_see_ivosidenib_with_its_quote(page):
    page.goto("/")
    page.get_by_role("radio", name=re.compile(r"^relapsed")).check()
    page.get_by_role("checkbox", name=re.compile(r"^IDH1\b")).check()
    page.get_by_role("button", name="Find options").click()
    page.wait_for_url(re.compile(r"status=relapsed.*mutations=IDH1"))
    card = page.locator('article[data-therapy="ivosidenib"]')
    sync_api.expect(card).to_be_visible()
    sync_api.expect(card.locator("h4")).to_contain_text("Tibsovo")
    mark = card.locator("blockquote mark")
    sync_api.expect(mark).to_contain_text("such as ivosidenib (Tibsovo) or olutasidenib (Rezlidhia)")
    # highlighted: the mark has a background of its own
    assert mark.evaluate("m => getComputedStyle(m).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    sync_api.expect(page.get_by_text("Not medical advice.").first).to_be_visible()
    card.scroll_into_view_if_needed()
    shot(page, "options-idh1-relapse")
    card.screenshot(path=str(ARTIFACTS / "card-ivosidenib.png"))


def test_the_sparql_link_opens_the_query_page_with_the_query_of_the_answer(page):
    page.goto("/?status=relapsed&mutations=IDH1")
    page.get_by_role("link", name="The SPARQL query that produced it").click()
    page.wait_for_url(re.compile(r"/sparql\?query="))
    editor = page.get_by_label("SPARQL query")
    sync_api.expect(editor).to_have_value(re.compile(r"<https://w3id.org/amlkg/IDH1Mutation>"))
    sync_api.expect(page.locator("#results")).to_contain_text("acs2022-idh1-ivosidenib", timeout=15000)
    shot(page, "sparql-query-of-the-answer")


def test_the_form_without_a_situation_shows_its_error(page):
    page.goto("/")
    page.get_by_role("button", name="Find options").click()
    alert = page.get_by_role("alert")
    sync_api.expect(alert).to_contain_text("status")
    alert.get_by_role("link").first.click()
    assert page.evaluate("location.hash") == "#f-status"
    shot(page, "form-error")


def test_ask_a_question_with_the_keyboard(page):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to the content"
    page.get_by_label("Question").focus()
    page.keyboard.type("options for IDH1+ relapse")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=options"))
    sync_api.expect(page.get_by_role("status").first).to_contain_text("Understood")
    sync_api.expect(page.locator('article[data-therapy="ivosidenib"]')).to_be_visible()
    assert page.get_by_role("radio", name=re.compile(r"^relapsed")).is_checked()
    shot(page, "question-idh1-relapse")


def test_open_an_entity_page_from_a_card(page):
    page.goto("/?status=relapsed&mutations=IDH1")
    page.locator('article[data-therapy="ivosidenib"]').get_by_role("link", name="About ivosidenib").click()
    page.wait_for_url(re.compile(r"/entity/Ivosidenib$"))
    sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("ivosidenib")
    sync_api.expect(page.get_by_role("link", name=re.compile("DrugBank"))).to_have_attribute(
        "href", "https://go.drugbank.com/drugs/DB14568")
    sync_api.expect(page.get_by_role("heading", name="FDA approvals")).to_be_visible()
    shot(page, "entity-ivosidenib", full_page=True)


def test_the_pathway_svg_renders(page):
    response = page.goto("/pathway.svg?status=relapsed&mutations=IDH1")
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    size = page.evaluate("(() => { const b = document.documentElement.getBBox(); return [b.width, b.height]; })()")
    assert size[0] > 500 and size[1] > 500
    assert "ivosidenib" in page.evaluate("document.documentElement.textContent")
    shot_svg(page, "pathway-idh1-relapse")
    page.goto("/pathway.svg")
    shot_svg(page, "pathway-full")


def shot_svg(page, name: str) -> None:
    """A bare SVG document has no scrolling box for full-page shots: size the viewport to it instead."""
    w, h = page.evaluate("[document.documentElement.width.baseVal.value, document.documentElement.height.baseVal.value]")
    page.set_viewport_size({"width": int(w), "height": min(int(h), 6000)})
    shot(page, name)


def test_the_pathway_is_shown_on_the_home_page(page):
    page.goto("/?status=refractory&mutations=FLT3")
    figure = page.locator("#pathway svg")
    sync_api.expect(figure).to_be_visible()
    box = figure.bounding_box()
    assert box["width"] > 300 and box["height"] > 300
    taken = page.locator('#pathway [data-recommendation].taken')
    assert taken.count() == page.locator("article.card").count()
    figure.scroll_into_view_if_needed()
    shot(page, "home-pathway-flt3-refractory")


def test_readable_on_a_phone(browser, live_server):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, base_url=live_server.url)
    page = ctx.new_page()
    try:
        page.goto("/?status=relapsed&mutations=IDH1")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, "the page scrolls sideways on a phone by %s px" % overflow
        font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 16
        page.locator('article[data-therapy="ivosidenib"]').scroll_into_view_if_needed()
        shot(page, "phone-idh1-relapse")
    finally:
        ctx.close()


# -- accessibility: axe-core (npm, from node_modules) in the real browser --------------------------------
#: axe-core's tags for the WCAG 2.0, 2.1 and 2.2 level A and AA rules
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: every kind of page, with its results and its error states
AXE_PAGES = [
    ("home", "/", None),
    ("options-results", "/?status=relapsed&mutations=IDH1&symptoms=pain", None),
    ("options-none-found", "/?status=relapsed&mutations=none&remission_months=8&age=45", None),
    ("options-apl", "/?disease=APL&status=relapsed&prior_therapy=ATRA%2BATO", None),
    ("options-form-error", "/?status=gone&age=-3", None),
    ("ask-question", "/?q=options+for+IDH1%2B+relapse", None),
    ("entity", "/entity/Ivosidenib", None),
    ("entity-recommendation", "/entity/acs2022-idh1-ivosidenib", None),
    ("entity-not-found", "/entity/NoSuchThing", None),
    ("sparql-page", "/sparql", None),
    ("sparql-results", "/sparql", "results"),
    ("sparql-error", "/sparql", "error"),
    ("api-docs", "/api/docs", None),
]


def axe_violations(page) -> list[str]:
    """Run axe-core's WCAG 2.2 A/AA rules on the page; the violations, one line each."""
    from tests.node_tools import node_module_file
    axe = node_module_file("axe-core/axe.min.js", needs_node=False)
    page.add_script_tag(path=str(axe))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return ["%s (%s): %s at %s" % (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]]


@pytest.mark.parametrize("name,path,state", AXE_PAGES, ids=[p[0] for p in AXE_PAGES])
def test_every_page_passes_axe_wcag22_aa(browser, live_server, name, path, state):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, base_url=live_server.url,
                              bypass_csp=True)  # axe is injected as a script the pages' CSP would refuse
    page = ctx.new_page()
    page.set_default_timeout(15000)
    try:
        response = page.goto(path)
        assert response is not None and response.status < 500
        if state is not None:
            editor = page.locator("textarea").first
            editor.fill("SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } LIMIT 5"
                        if state == "results"
                        else "SELECT ?s WHERE { ?s ?p }")
            page.click("#run")
            page.wait_for_selector("table.results tbody tr" if state == "results" else "#error:not([hidden])",
                                   timeout=15000)
        violations = axe_violations(page)
        assert violations == [], "%s: %s" % (name, violations)
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["/", "/entity/Ivosidenib"])
def test_the_store_unavailable_pages_pass_axe_too(browser, live_server, path):
    """The error state a browser sees when the graph cannot be reached (rendered by the app over an
    unreachable store, shown at the live server's origin so its stylesheet loads)."""
    from kg_service import create_app
    down = create_app({"TESTING": True, "KG_STORE": "http://127.0.0.1:9/query", "KG_STORE_RETRIES": 0})
    r = down.test_client().get(path, headers={"Accept": "text/html"})
    assert r.status_code == 503 and r.mimetype == "text/html"
    ctx = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto("/health")
        page.set_content(r.get_data(as_text=True))
        violations = axe_violations(page)
        assert violations == [], violations
    finally:
        ctx.close()
