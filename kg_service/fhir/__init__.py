"""FHIR R4 for clinical systems (blueprint `fhir`, under /fhir): the document as PlanDefinitions
with ActivityDefinitions (`plandefinition.py`, from the graph through `queries/*.rq`), and the
reading of patient records into the options finder's profile (`record.py`, `codes.py`).
"""
from __future__ import annotations

from .views import bp, init_app

__all__ = ["bp", "init_app"]
