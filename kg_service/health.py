"""`/health`: is the store open, how big, which graph version."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .dataset import get_store
from .errors import problem
from .store import StoreError

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    try:
        store = get_store()
        return jsonify(status="ok", triples=store.triple_count(), graph_version=store.graph_version())
    except StoreError as e:
        return problem(503, "Store unavailable", str(e), headers={"Retry-After": "5"})
