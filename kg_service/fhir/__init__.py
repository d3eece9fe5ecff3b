"""FHIR R4 for clinical systems (blueprint `fhir`, under /fhir): the document as PlanDefinitions
with ActivityDefinitions (`plandefinition.py`, from the graph through `queries/*.rq`), and the
reading of patient records into the options finder's profile (`record.py`, `codes.py`).
"""
from __future__ import annotations

from flask import Blueprint, Flask

from ..api import allow_cross_origin

bp = allow_cross_origin(Blueprint("fhir", __name__, url_prefix="/fhir"))


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on import)
    app.register_blueprint(bp)
