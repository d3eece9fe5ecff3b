"""CDS Hooks 2.0 for EHRs (blueprint `cds`): `GET /cds-services` (discovery) and
`POST /cds-services/<id>` (a patient-view call with its FHIR R4 prefetch -> cards).

The record is read into a profile (`kg_service.fhir.record`), the options finder answers it, and each
option becomes a card carrying the document's sentence (`cards.py`). Missing prefetch is fetched
from the EHR's `fhirServer` (`fetch.py`).
"""
from __future__ import annotations

from .views import bp, init_app

__all__ = ["bp", "init_app"]
