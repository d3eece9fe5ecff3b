"""Pages for people: the options finder (`/`), entity pages (`/entity/<id>`), the pathway picture
(`/pathway.svg`). Plain HTML that works without JavaScript; every answer shows its source sentence.
"""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/ui/static")


def init_app(app: Flask) -> None:
    """Register the pages and their per-worker caches."""
    from . import facts, views  # noqa: F401  (views attaches the routes to bp)
    facts.init_app(app)
    app.register_blueprint(bp)
