"""What keeps a worker's first requests (after it starts, after a swap) as fast as its later ones:
a profile part the snapshot has not read yet is read by one request while the others that need it
wait for that read (not a query each, queued behind the query gate); and what the worker built to
serve is frozen out of the cyclic collector, whose full passes over it would pause every request."""
from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from kg_service import create_app, services
from kg_service.options import parse_profile
from kg_service.served_store import get_store

#: a mutation set the snapshot's read-ahead does not cover (it reads each single value)
NEW_PART = {"status": "relapsed", "mutations": "FLT3,IDH1,IDH2"}


@pytest.fixture()
def app(store_path):
    return create_app({"TESTING": True, "KG_STORE": store_path})


def counted_queries(monkeypatch, store, delay: float = 0.0, fail_first: bool = False) -> list[str]:
    """Count the store's SELECTs (each made slow by `delay`; the first one failing if asked)."""
    calls: list[str] = []
    select = store.select

    def counting(query, bindings=None, **kwargs):
        calls.append(query)
        time.sleep(delay)
        if fail_first and len(calls) == 1:
            raise RuntimeError("the first read failed")
        return select(query, bindings, **kwargs)
    monkeypatch.setattr(store, "select", counting)
    return calls


def test_requests_needing_the_same_new_part_share_one_read(app, monkeypatch):
    with app.app_context():
        finder, store = services.get_finder(), get_store()
        finder.snapshot(store)
        calls = counted_queries(monkeypatch, store, delay=0.2)
        together = threading.Barrier(8)

        def request(months):
            with app.app_context():
                together.wait()
                return finder.find(parse_profile({**NEW_PART, "remission_months": months}))["options"]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(request, [7 + n / 2 for n in range(8)]))
    assert len(calls) == 1, "%d reads of one part" % len(calls)
    # every request got the options the one read found (remission lengths of 7-10.5 months, between
    # the document's thresholds of 6 and 12: the same options, only the numbers quoted in `why` differ)
    chosen = [[o["recommendation"] for o in a] for a in answers]
    assert chosen[0] and all(c == chosen[0] for c in chosen)


def test_when_the_read_fails_the_waiting_requests_read_the_part_themselves(app, monkeypatch):
    with app.app_context():
        finder, store = services.get_finder(), get_store()
        finder.snapshot(store)
        calls = counted_queries(monkeypatch, store, delay=0.2, fail_first=True)
        together = threading.Barrier(4)

        def request(months):
            with app.app_context():
                together.wait()
                try:
                    return len(finder.find(parse_profile({**NEW_PART, "remission_months": months}))["options"])
                except RuntimeError:
                    return "failed"
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(request, range(3, 7)))
    assert outcomes.count("failed") == 1 and all(isinstance(o, int) and o for o in outcomes if o != "failed")
    assert 2 <= len(calls) <= 4  # the failed read, then the waiters' own (at most one each)


def test_a_serving_worker_freezes_its_snapshot_out_of_the_cyclic_collector(store_path, monkeypatch):
    from kg_service.front import create_front
    from tests.test_worker_warm_up import start_up
    monkeypatch.setenv("KG_STORE", store_path)
    gc.unfreeze()
    try:
        front = create_front()
        start_up(front)  # the worker's start: its snapshot is built, then frozen
        assert gc.get_freeze_count() > 0
        with front.wsgi_app.app_context():
            snap = services.get_snapshot()
        tracked = {id(o) for o in gc.get_objects()}
        assert id(snap.parts) not in tracked and id(snap.vocabulary.codes) not in tracked
    finally:
        gc.unfreeze()


def test_an_app_outside_a_serving_worker_freezes_nothing(app):
    gc.unfreeze()
    services.warm(app)
    assert gc.get_freeze_count() == 0
