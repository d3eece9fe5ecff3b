"""Prefetch the EHR did not send, read from its FHIR server (CDS Hooks 2.0, "FHIR resource access").

The `fhirServer` URL comes from the caller, so every read is bounded: http(s) only, no redirects,
a connect and read timeout, a byte cap per response, a cap on searchset pages (next links are
followed only on the same server), and an overall time budget per call.
"""
from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

import orjson
import urllib3

from ..errors import ProblemError

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
BUDGET_SECONDS = 20.0
MAX_BYTES = 8 * 1024 * 1024
MAX_PAGES = 10
FHIR_JSON = "application/fhir+json"

_pool = urllib3.PoolManager(num_pools=8, maxsize=4, retries=False,
                            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT))


def check_server(url) -> str:
    """The fhirServer base URL, or a 400 problem: absolute http(s) with a host, no credentials."""
    if not isinstance(url, str) or not url.strip():
        raise ProblemError(400, "Invalid CDS Hooks request", "fhirServer must be an http(s) URL",
                           kind="invalid-cds-request", errors={"fhirServer": "must be an http(s) URL"})
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ProblemError(400, "Invalid CDS Hooks request",
                           "fhirServer must be an absolute http(s) URL without credentials (got %r)" % url[:200],
                           kind="invalid-cds-request", errors={"fhirServer": "must be an absolute http(s) URL"})
    return url.strip().rstrip("/")


def fill(template: str, context: dict) -> str:
    """A prefetch template with its {{context.X}} tokens filled (URL-escaped).

    >>> fill("Condition?patient={{context.patientId}}", {"patientId": "a b"})
    'Condition?patient=a%20b'
    """
    out = template
    for key, value in context.items():
        if isinstance(value, str):
            out = out.replace("{{context.%s}}" % key, quote(value, safe="-._~"))
    return out


class Fetcher:
    """Reads prefetch queries from one FHIR server within one time budget."""

    def __init__(self, server: str, authorization: dict | None):
        self.server = server
        self.origin = urlsplit(server)[:2]
        self.deadline = time.monotonic() + BUDGET_SECONDS
        self.headers = {"Accept": FHIR_JSON}
        if isinstance(authorization, dict) and authorization.get("access_token"):
            token_type = str(authorization.get("token_type") or "Bearer")
            self.headers["Authorization"] = "%s %s" % (token_type, authorization["access_token"])

    def get(self, relative: str):
        """The resource or searchset Bundle for a prefetch query (all its pages, within the caps)."""
        first = self._read(self.server + "/" + relative.lstrip("/"))
        if not isinstance(first, dict) or first.get("resourceType") != "Bundle":
            return first
        bundle, page, pages = dict(first), first, 1
        entries = list(first.get("entry") or ())
        while pages < MAX_PAGES:
            nxt = next((link.get("url") for link in page.get("link") or () if link.get("relation") == "next"), None)
            if not nxt or urlsplit(nxt)[:2] != self.origin:
                break
            page = self._read(nxt)
            if not isinstance(page, dict):
                break
            entries.extend(page.get("entry") or ())
            pages += 1
        bundle["entry"] = entries
        bundle.pop("link", None)
        return bundle

    def _read(self, url: str):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _failed(url, "the time budget of %.0f s ran out" % BUDGET_SECONDS)
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, left), read=min(READ_TIMEOUT, left))
        try:
            resp = _pool.request("GET", url, headers=self.headers, timeout=timeout, redirect=False,
                                 preload_content=False)
        except urllib3.exceptions.HTTPError as e:
            raise _failed(url, type(e).__name__) from None
        try:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise _failed(url, "HTTP %d" % resp.status)
            body = bytearray()
            for chunk in resp.stream(65536):
                body.extend(chunk)
                if len(body) > MAX_BYTES:
                    raise _failed(url, "the answer is larger than %d bytes" % MAX_BYTES)
                if time.monotonic() > self.deadline:
                    raise _failed(url, "the time budget of %.0f s ran out" % BUDGET_SECONDS)
        except urllib3.exceptions.HTTPError as e:
            raise _failed(url, type(e).__name__) from None
        finally:
            resp.release_conn()
        try:
            return orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            raise _failed(url, "the answer is not JSON") from None


def _failed(url: str, why: str) -> ProblemError:
    parts = urlsplit(url)
    where = "%s://%s%s" % (parts.scheme, parts.netloc, parts.path)
    return ProblemError(502, "FHIR server failed", "reading %s from fhirServer failed: %s" % (where, why),
                        kind="fhir-server-failed")
