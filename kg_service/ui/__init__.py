"""Pages for people: the options finder (`/`), entity pages (`/entity/<id>`), the pathway picture
(`/pathway.svg`). Plain HTML that works without JavaScript; every answer shows its source sentence.
"""
from __future__ import annotations

from .views import bp, init_app

__all__ = ["bp", "init_app"]
