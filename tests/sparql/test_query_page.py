"""The /sparql query page in headless Chromium (Debian `chromium` + Playwright's Python package):
type a query, run it, see rows; pick an example; errors point at the line; downloads work."""
from __future__ import annotations

import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium_or_skip() -> str:
    """Tests install nothing: `make system-deps` (run by `make test` as root) installs chromium."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at %s: install the Debian package chromium (`apt-get install "
                    "chromium` as root, or `make system-deps` as root)" % CHROMIUM)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    executable = _chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    blocked = []
    # the page must work offline: any request leaving the server fails the test
    pg.on("request", lambda r: blocked.append(r.url) if not r.url.startswith("http://127.0.0.1") else None)
    yield pg
    context.close()
    assert not blocked, "the page reached out beyond the server: %s" % blocked


def test_type_run_and_see_rows(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(live_server.url + "/sparql")
    assert page.title().startswith("amlkg")
    editor = page.locator("#query")
    assert "PREFIX amlkg:" in editor.input_value()          # prefixes pre-filled
    editor.fill("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                "SELECT ?entity ?label WHERE { ?entity rdfs:label ?label } ORDER BY ?label LIMIT 15")
    page.click("#run")
    page.wait_for_selector("table.results tbody tr")
    assert page.locator("table.results tbody tr").count() == 15
    assert page.locator("table.results thead th").all_inner_texts() == ["?entity", "?label"]
    assert "15 rows" in page.locator("#status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "sparql-query-page.png"), full_page=True)
    # download links carry the query and fetch the same rows as CSV
    href = page.locator("#dl-csv").get_attribute("href")
    assert "format=csv" in href
    with urllib.request.urlopen(live_server.url + href) as r:
        assert r.headers.get_content_type() == "text/csv"
        assert len(r.read().decode().strip().splitlines()) == 16
    assert "format=json" in page.locator("#dl-json").get_attribute("href")


def test_examples_come_from_the_named_queries(page, live_server):
    page.goto(live_server.url + "/sparql")
    names = [v for v in page.locator("#examples option").evaluate_all("els => els.map(e => e.value)") if v]
    assert names and "labels" in names
    page.select_option("#examples", "labels")
    assert "#+ summary:" in page.locator("#query").input_value()
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("table.results tbody tr")
    assert page.locator("table.results tbody tr").count() > 10


def test_syntax_errors_point_at_the_line(page, live_server):
    page.goto(live_server.url + "/sparql")
    page.locator("#query").fill("SELECT ?x WHERE {\n  ?x ?y\n}")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "line 3" in page.locator("#error").inner_text()
    line = page.evaluate("() => { const t = document.getElementById('query');"
                         " return t.value.slice(0, t.selectionStart).split('\\n').length; }")
    assert line == 3


def test_links_open_the_page_prefilled_and_run(page, live_server):
    q = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    page.goto(live_server.url + "/sparql?" + urllib.parse.urlencode({"query": q}))
    assert page.locator("#query").input_value() == q
    page.wait_for_selector("table.results tbody tr")
    assert page.locator("table.results tbody tr").count() >= 3
    # a CONSTRUCT/DESCRIBE answer is shown as a table of triples
    page.locator("table.results tbody a").first.click()
    page.wait_for_selector("table.results thead th >> text=?s")
    assert page.locator("table.results tbody tr").count() >= 1
