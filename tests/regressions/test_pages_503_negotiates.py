"""Regression: with the store unreachable, the pages answered an HTML 503 to every client while
SECURITY.md says problem+json; and `serve` printed three warning lines at start where the README
says one. Now: problem+json unless the client prefers HTML (a browser), and one line."""
from __future__ import annotations

import json
import time

from tests.conftest import free_port
from tests.security.support import ServeProcess, http

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_pages_answer_problem_json_unless_the_client_prefers_html(tmp_path):
    url = "http://127.0.0.1:%d/query" % free_port()  # nothing listens there
    env = {"KG_STORE": url, "KG_STORE_RETRIES": "0", "KG_STORE_CONNECT_TIMEOUT": "1"}
    server = ServeProcess(url, env=env, log=tmp_path / "serve.log").start(wait=False)
    try:
        first = None
        for _ in range(300):
            try:
                first = http("GET", server.url + "/", headers={"Accept": "*/*"}, timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        assert first is not None, server.output()[-2000:]
        for path in ("/", "/entity/Ivosidenib", "/?status=relapsed", "/pathway.svg"):
            for accept in ("*/*", "application/json", None, "application/problem+json, text/html;q=0.5"):
                status, headers, body = http("GET", server.url + path, headers={"Accept": accept} if accept else {})
                assert status == 503, (path, accept, status)
                assert headers.get_content_type() == "application/problem+json", (path, accept)
                assert json.loads(body)["status"] == 503 and int(headers["Retry-After"]) > 0
        for path in ("/", "/entity/Ivosidenib"):
            status, headers, body = http("GET", server.url + path, headers={"Accept": BROWSER})
            assert status == 503 and headers.get_content_type() == "text/html", path
            assert int(headers["Retry-After"]) > 0 and b"<html" in body.lower()
        # start-up said it in one line, and every other line is a JSON record
        lines = server.output().splitlines()
        warnings = [line for line in lines if not line.startswith("{")]
        assert len(warnings) == 1 and warnings[0].startswith("warning: the store at %s does not answer" % url), \
            warnings
    finally:
        server.stop()
