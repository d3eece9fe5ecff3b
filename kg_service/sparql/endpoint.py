"""What every part of the SPARQL endpoint shares: its settings (`Limits`), its own URL (the base IRI of
queries and the Service Description's endpoint) and the Content-Type of each media type."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from flask import current_app

from .guard import DEFAULT_MAX_COMPLEXITY

_CONTENT_TYPES = {}  # media type -> Content-Type header value


def content_type(media_type: str) -> str:
    """The Content-Type header for a media type (text/* types say UTF-8)."""
    ct = _CONTENT_TYPES.get(media_type)
    if ct is None:
        ct = media_type + ("; charset=utf-8" if media_type.startswith("text/") else "")
        _CONTENT_TYPES[media_type] = ct
    return ct


@dataclass(frozen=True)
class Limits:
    """The endpoint's settings, read once from the config."""
    max_query_bytes: int
    row_cap: int
    timeout: float
    max_complexity: int = DEFAULT_MAX_COMPLEXITY

    @property
    def max_raw(self) -> int:
        # percent-encoding can triple a query's length in a URL or form body
        return 3 * self.max_query_bytes + 8192


def limits() -> Limits:
    return current_app.extensions["amlkg_sparql"]


_HOST = re.compile(r"^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_BASES: dict = {}


def endpoint_base(environ) -> str:
    """The endpoint's own URL (…/sparql): the base IRI of queries and the service description's
    sd:endpoint. Computed once per host (werkzeug's request.base_url costs ~20 µs a request)."""
    k = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
         environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME", ""))
    base = _BASES.get(k)
    if base is None:
        scheme = k[0] if k[0] in ("http", "https") else "http"
        host = k[1] if k[1] and _HOST.match(k[1]) else None
        if host is None:
            port = k[3] or ""
            host = (k[2] or "localhost") + ("" if (scheme, port) in (("http", "80"), ("https", "443"), ("http", ""))
                                            else ":" + port)
        base = "%s://%s%s/sparql" % (scheme, host, quote(k[4].rstrip("/"), safe="/"))
        if len(_BASES) > 512:
            _BASES.clear()
        _BASES[k] = base
    return base
