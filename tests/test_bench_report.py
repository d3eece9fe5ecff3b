"""`make bench`'s report checks issue 12's floor target from the figures it measured: the uncached
simple SELECT against the bare WSGI floor of the same run (90 %), and reports the ASGI floor beside it."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import run_all  # noqa: E402


def _row(server, rps, clients=1, query="simple", mode="uncached"):
    return {"dataset": "amlkg", "query": query, "clients": clients, "mode": mode, "server": server, "rps": rps}


def test_the_floor_target_is_met_only_at_ninety_percent_at_every_client_count():
    summary = [_row("amlkg", 950), _row("wsgi-floor-query", 1000), _row("asgi-floor-query", 990),
               _row("amlkg", 800, clients=8), _row("wsgi-floor-query", 1000, clients=8),
               _row("amlkg", 10, query="filter"), _row("wsgi-floor-query", 1000, query="filter")]
    wsgi, asgi = run_all.floor_targets(summary)
    assert wsgi == ("SPARQL uncached simple SELECT ≥ 90 % of the WSGI floor",
                    "amlkg/simple c=1: 95 %, amlkg/simple c=8: 80 %", False)
    assert asgi == ("SPARQL uncached simple SELECT as a share of the ASGI floor", "amlkg/simple c=1: 96 %", None)
    summary[3]["rps"] = 900
    assert run_all.floor_targets(summary)[0][2] is True


def test_no_floor_measured_no_floor_target():
    assert run_all.floor_targets([_row("amlkg", 950), _row("oxigraph", 2000)]) == []


def test_the_cold_windows_are_judged_per_load_generator_and_the_warm_floor_is_informational():
    window = {"after_ready": {"p99_ms": 15.0}, "after_swap": {"p99_ms": 19.9}, "warm": {"p99_ms": 12.0}}
    slow = {**window, "after_swap": {"p99_ms": 200.0}}
    rows = run_all.targets({"cold": {"python": {"figures": [window]}, "wrk": {"figures": [window, slow]}}})
    met = {label: ok for label, _measured, ok in rows}
    assert met["options p99 < 20 ms at 16 clients, new profiles, first 5 s after a swap "
               "(16 Python clients' own latencies)"] is True
    assert met["options p99 < 20 ms at 16 clients, new profiles, first 5 s after a swap "
               "(wrk, corrected for coordinated omission)"] is False
    assert [ok for label, _m, ok in rows if "warm worker" in label] == [None, None]
