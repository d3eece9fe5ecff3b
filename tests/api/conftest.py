"""Fixtures of the JSON API tests: a client of the real server over HTTP, and the source text."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import SOURCE_TEXT

TEXT = SOURCE_TEXT.read_text(encoding="utf-8")
NOT_HELPFUL = "not likely helpful"


class Api:
    """requests over one keep-alive session against the live server."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def get(self, path: str, params=None, **kwargs) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.base + path, timeout=30, **kwargs)

    def json(self, path: str, params=None, **kwargs) -> dict:
        r = self.get(path, params, **kwargs)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        assert r.headers["Content-Type"].startswith("application/json")
        return r.json()


@pytest.fixture(scope="session")
def api(live_server) -> Api:
    return Api(live_server.url)


def therapies(options, *, helpful_only: bool = True) -> set[str]:
    """Therapy labels of an answer's options (by default without those advised against)."""
    return {o["therapy"]["label"] for o in options if not helpful_only or o["strength"] != NOT_HELPFUL}


def assert_quotes_exact(options) -> None:
    """Every option carries its source sentence, character for character."""
    assert options
    for o in options:
        assert o["source"]["quote"] in TEXT, o["source"]["quote"]
        assert o["source"]["revised"] == "2022-12-01"
        assert "\n%s\n" % o["source"]["section"] in TEXT


def assert_problem(r: requests.Response, status: int, *fields: str) -> dict:
    """A problem+json answer with `status`, naming `fields` in `errors`."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers["Content-Type"]
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert "detail" in body
    for f in fields:
        assert f in body.get("errors", {}), (f, body)
    return body
