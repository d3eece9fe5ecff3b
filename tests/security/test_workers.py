"""An engine crash never takes the service down (kg_service/server.py): a worker killed by SIGSEGV, as
a stack overflow in pyoxigraph kills it, is restarted by the supervisor, again and again, while the
other workers keep answering; the supervisor itself never exits while it serves."""
from __future__ import annotations

import json
import os
import signal
import time

from tests.conftest import child_pids

from .support import ServeProcess, http

#: how long /health may take to answer again after a worker is killed (the other worker answers at
#: once; a restarted worker builds its app in about 0.2 s; margin for a shared, loaded machine)
ANSWER_BOUND = 3.0


def workers_of(server: ServeProcess) -> list[int]:
    """The worker processes: the children of the granian instances the supervisor runs."""
    return sorted(w for instance in child_pids(server.proc.pid) for w in child_pids(instance))


def wait_for_workers(server: ServeProcess, count: int, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workers_of(server)
        if len(found) == count:
            return found
        time.sleep(0.05)
    raise AssertionError("expected %d workers, found %s" % (count, workers_of(server)))


def health_within(url: str, bound: float) -> float:
    """Seconds until /health answers 200, failing beyond `bound`."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < bound:
        try:
            status = http("GET", url + "/health", timeout=bound)[0]
            if status == 200:
                return time.monotonic() - t0
            last = status
        except OSError as e:
            last = e
        time.sleep(0.01)
    raise AssertionError("/health did not answer within %.1f s (last: %r)" % (bound, last))


def test_twenty_worker_crashes_in_ten_seconds_never_stop_the_service(own_store):
    server = ServeProcess(own_store, workers=2).start()
    try:
        wait_for_workers(server, 2)
        gaps, killed = [], set()
        t0 = time.monotonic()
        for i in range(20):
            found = workers_of(server)
            assert found, "no worker left to kill after %d crashes" % i
            victim = found[i % len(found)]
            os.kill(victim, signal.SIGSEGV)
            killed.add(victim)
            gaps.append(health_within(server.url, ANSWER_BOUND))
            time.sleep(max(0.0, 0.5 - gaps[-1]))
        elapsed = time.monotonic() - t0
        print("20 SIGSEGVs in %.1f s; /health answered again after: max %.3f s, median %.3f s"
              % (elapsed, max(gaps), sorted(gaps)[10]))
        assert elapsed < 20 + ANSWER_BOUND
        assert server.proc.poll() is None, "the supervisor exited: %s" % server.output()[-2000:]
        assert len(killed) == 20, "the same process was killed twice: the kills did not land"
        # both slots come back with fresh workers, and a query is answered by the service as before
        after = wait_for_workers(server, 2)
        assert not killed & set(after)
        status, _h, body = http("GET", server.url + "/api/options?status=relapsed&mutations=IDH1")
        assert status == 200 and json.loads(body)["options"]
        # every crash was noticed and logged as one JSON record by the supervisor
        restarts = [line for line in server.output().splitlines()
                    if "ended unexpectedly" in line and json.loads(line)["logger"] == "kg_service.server"]
        assert len(restarts) >= 20
    finally:
        server.stop()


def test_a_slot_whose_worker_keeps_dying_at_start_backs_off_while_the_other_serves(own_store):
    """Every worker of one slot killed the moment it appears (before it can serve): the supervisor
    restarts that slot with a growing wait (0.05 s doubling to 2 s), never in a tight loop, and never
    exits; the other slot answers throughout, and the slot serves again once the kills stop."""
    server = ServeProcess(own_store, workers=2).start()
    try:
        wait_for_workers(server, 2)
        spared = max(child_pids(server.proc.pid))  # this slot's instance is left alone
        killed: set[int] = set()
        deadline = time.monotonic() + 6
        checks = 0
        while time.monotonic() < deadline:
            for instance in child_pids(server.proc.pid) - {spared}:
                for worker in child_pids(instance) - killed:
                    os.kill(worker, signal.SIGKILL)
                    killed.add(worker)
            time.sleep(0.003)
            checks += 1
            if checks % 50 == 0:
                health_within(server.url, ANSWER_BOUND)
        assert server.proc.poll() is None, server.output()[-2000:]
        assert spared in child_pids(server.proc.pid)
        assert 3 <= len(killed) <= 15, "the slot started %d workers in 6 s: no backoff" % len(killed)
        waits = [json.loads(line)["message"] for line in server.output().splitlines()
                 if "ended unexpectedly" in line]
        assert any(" in 0.80 s" in w or " in 1.60 s" in w or " in 2.00 s" in w for w in waits), waits
        wait_for_workers(server, 2, timeout=15)
        health_within(server.url, ANSWER_BOUND)
    finally:
        server.stop()


def test_granian_accepts_every_option_we_pass():
    """The supervisor drives granian through its public constructor only; an upgrade that renames
    or drops an option we rely on fails here, loudly, not at the first crash in production."""
    import inspect

    from granian import Granian

    from kg_service.server import _granian_options
    options = _granian_options("127.0.0.1", 0, 4)
    # every option by name, none swallowed by a catch-all: a dropped one is a TypeError below
    parameters = inspect.signature(Granian).parameters
    assert not [p for p in parameters.values() if p.kind is p.VAR_KEYWORD]
    assert set(options) <= set(parameters), set(options) - set(parameters)
    server = Granian(**options)
    assert server.workers == 1 and server.respawn_failed_workers is False
    assert server.workers_kill_timeout == options["workers_kill_timeout"]
    assert server.http1_settings.header_read_timeout == options["http1_settings"].header_read_timeout
    from granian.constants import Loops
    assert server.loop == Loops.uvloop, "uvloop is a dependency: the workers should run on it"

