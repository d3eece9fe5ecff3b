"""`/health`: is the store open, how big, which graph version."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .served_store import get_store

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    store = get_store()  # store trouble is answered by errors.store_problem, as on every route
    return jsonify(status="ok", triples=store.triple_count(), graph_version=store.graph_version())
