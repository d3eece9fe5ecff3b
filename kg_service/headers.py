"""Response headers every answer carries, set around the whole app (WSGI middleware) so that no path
escapes them: cached SPARQL answers served before Flask, static files, errors, 413/414 included (the
rate limit's 429 and the worker front's 408/413/414, answered outside the app, set nosniff themselves).

- ``X-Content-Type-Options: nosniff`` on every response.
- HTML without its own policy (``/api/docs``, error pages) gets `HTML_CSP`: nothing loads from
  elsewhere, no script runs, and only our own pages may frame it (``frame-ancestors 'self'``). The
  pages and the SPARQL query page set their own, stricter-or-equal policies, with the same
  ``frame-ancestors``.
- CORS: the JSON API is public read-only data, so ``/api/*`` answers ``Access-Control-Allow-Origin: *``
  (never ``…-Allow-Credentials``: the service sets no cookies and takes no ambient credentials) and
  answers preflights; ``/sparql`` does the same in its own module. ``/curator/*`` gets no CORS
  header, so browsers refuse cross-origin calls to it.
"""
from __future__ import annotations

HTML_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'self'")
CORS_PREFIXES = ("/api/",)
_CORS = [("Access-Control-Allow-Origin", "*"),
         ("Access-Control-Expose-Headers", "ETag, Retry-After, Content-Location, Link")]
_PREFLIGHT = [("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
              ("Access-Control-Allow-Headers", "Accept, Content-Type, If-None-Match"),
              ("Access-Control-Max-Age", "86400")]


class SecurityHeaders:
    """WSGI middleware adding the headers above to whatever the app answers."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        cors = path.startswith(CORS_PREFIXES)
        if cors and environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            start_response("204 No Content", [("X-Content-Type-Options", "nosniff"), *_CORS, *_PREFLIGHT])
            return [b""]

        def start(status, headers, exc_info=None):
            headers = list(headers)
            names = {name.lower() for name, _ in headers}
            if "x-content-type-options" not in names:
                headers.append(("X-Content-Type-Options", "nosniff"))
            if "content-security-policy" not in names:
                ctype = next((v for n, v in headers if n.lower() == "content-type"), "")
                if ctype.startswith(("text/html", "application/xhtml+xml", "image/svg+xml")):
                    headers.append(("Content-Security-Policy", HTML_CSP))
            if cors and "access-control-allow-origin" not in names:
                headers.extend(_CORS)
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)


def init_app(app) -> None:
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
