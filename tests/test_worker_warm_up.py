"""A worker answers one profile before it serves (kg_service.front.create_front → services.warm), so a
fresh worker's first clients do not each read the graph's facts while holding a query slot."""
from __future__ import annotations

import pytest

from kg_service.front import create_front
from kg_service.options import parse_profile
from kg_service.services import WARM_PROFILE, get_finder
from kg_service.store import StoreError


def test_the_worker_factory_has_answered_a_profile_before_serving(store_path, monkeypatch):
    monkeypatch.setenv("KG_STORE", store_path)
    app = create_front().wsgi_app
    with app.app_context():
        finder = get_finder()
        store = finder._store_getter()

        def no_query(*_args, **_kwargs):
            raise AssertionError("the warm profile was not answered at start: it queried the store")
        monkeypatch.setattr(store, "select", no_query)
        answer = finder.find(parse_profile(WARM_PROFILE))
        assert answer["options"], answer
        with pytest.raises(AssertionError):   # a profile not yet answered does query the store
            finder.find(parse_profile({"status": "refractory", "mutations": "FLT3"}))


def test_a_worker_starts_when_its_store_does_not_answer_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("KG_STORE", str(tmp_path / "no-store-here"))
    monkeypatch.setenv("KG_BUILD_IF_MISSING", "false")
    app = create_front().wsgi_app
    with app.app_context(), pytest.raises(StoreError):
        get_finder().find(parse_profile(WARM_PROFILE))
