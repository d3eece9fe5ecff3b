"""Optional curator writes (off by default): SPARQL Update and the Graph Store Protocol on one named
graph, ``https://w3id.org/amlkg/graph/curator``, behind a bearer token, atomic, durable and audited.

Enabled only when ``KG_CURATOR_TOKEN`` is set (at least 16 characters); otherwise no /curator route
exists (404) and the public ``/sparql`` stays read-only either way. See `storage` for how a write
reaches the disk and `views` for the routes.
"""
from __future__ import annotations

from flask import Flask

from .storage import CURATOR_GRAPH

MIN_TOKEN_LENGTH = 16


def init_app(app: Flask) -> None:
    """Register /curator when a token is configured."""
    token = str(app.config.get("KG_CURATOR_TOKEN") or "")
    if not token:
        return
    if len(token) < MIN_TOKEN_LENGTH:
        raise RuntimeError("KG_CURATOR_TOKEN must be at least %d characters (e.g. `python -c "
                           "'import secrets; print(secrets.token_urlsafe(32))'`)" % MIN_TOKEN_LENGTH)
    from .views import _EXT, bp
    app.extensions[_EXT] = {
        "token": token.encode("utf-8"),
        "name": str(app.config.get("KG_CURATOR_NAME") or "curator"),
        "location": str(app.config["KG_STORE"]),
        "max_bytes": int(app.config.get("KG_CURATOR_MAX_BYTES") or 1_000_000),
        "timeout": float(app.config.get("KG_QUERY_TIMEOUT") or 10.0),
        "max_complexity": int(app.config.get("KG_MAX_QUERY_COMPLEXITY") or 2000),
    }
    app.register_blueprint(bp)


__all__ = ["CURATOR_GRAPH", "init_app"]
