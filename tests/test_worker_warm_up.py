"""A worker builds its graph version's snapshot before it serves: at ASGI lifespan startup (which granian
awaits before the worker takes requests) the front calls services.warm, so a fresh worker's first clients
do not each read the graph's facts while holding a query slot."""
from __future__ import annotations

import asyncio
import os

import pytest

from kg_service import services
from kg_service.front import create_front
from kg_service.options import parse_profile
from kg_service.services import get_finder

#: a profile a client might send first
FIRST_PROFILE = {"status": "relapsed", "mutations": "IDH1"}


def start_up(front) -> list[dict]:
    """Drive the front's ASGI lifespan up to startup complete, as granian does; the messages it sent."""
    sent: list[dict] = []

    async def run():
        inbox: asyncio.Queue = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        started = asyncio.Event()

        async def send(message):
            sent.append(message)
            started.set()
        task = asyncio.ensure_future(front({"type": "lifespan"}, inbox.get, send))
        await asyncio.wait_for(started.wait(), 60)
        task.cancel()
    asyncio.run(run())
    return sent


def forbid_queries(finder, monkeypatch):
    def no_query(*_args, **_kwargs):
        raise AssertionError("queried the store")
    monkeypatch.setattr(finder._store_getter(), "select", no_query)


def test_the_worker_answers_from_its_snapshot_when_startup_completes(store_path, monkeypatch):
    monkeypatch.setenv("KG_STORE", store_path)
    front = create_front()
    assert start_up(front) == [{"type": "lifespan.startup.complete"}]
    with front.wsgi_app.app_context():
        finder = get_finder()
        forbid_queries(finder, monkeypatch)
        assert finder.find(parse_profile(FIRST_PROFILE))["options"]    # from the snapshot built at startup
        # every single stated value was read ahead into the snapshot: a new profile of them costs no query
        assert finder.find(parse_profile({"status": "refractory", "mutations": "FLT3", "age": 71}))["options"]
        with pytest.raises(AssertionError, match="queried the store"):  # a value set not read ahead queries
            finder.find(parse_profile({"status": "refractory", "mutations": "FLT3,IDH1"}))


def test_a_worker_starts_when_its_store_does_not_answer_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("KG_STORE", str(tmp_path / "no-store-here"))
    monkeypatch.setenv("KG_BUILD_IF_MISSING", "false")
    assert start_up(create_front()) == [{"type": "lifespan.startup.complete"}]


def test_a_worker_starts_when_warming_fails_unexpectedly(store_path, monkeypatch, caplog):
    monkeypatch.setenv("KG_STORE", store_path)
    front = create_front()
    monkeypatch.setattr(services, "read_snapshot", lambda _store, _queries: 1 / 0)  # the snapshot's build
    assert start_up(front) == [{"type": "lifespan.startup.complete"}]
    assert "warming the worker (its snapshot) failed" in caplog.text


def test_the_supervisor_preloads_the_negation_reader_and_stays_single_threaded():
    """`serve` forks its workers from a supervisor that has imported the app and built the negation
    reader (so a restarted worker starts in a fraction of a second, with the reader built): forking is
    safe only if that left no other thread running."""
    import subprocess
    import sys
    code = ("import os; from kg_service import server, negation; server._preload(); "
            "print(len(os.listdir('/proc/self/task')), sorted(negation._readers))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(None, 1) == ["1", "['negex']\n"], out.stdout
