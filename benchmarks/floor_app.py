"""The floor of a SPARQL answer in Python: bare apps under granian, run as `kg_service serve` runs amlkg.

    .venv/bin/python benchmarks/floor_app.py static --answers FILE --port N [--workers N] [--interface asgi]
    .venv/bin/python benchmarks/floor_app.py query --store DIR [--union] --port N [--workers N] [--interface asgi]

- ``static``: every GET whose query string is in FILE (recorded from amlkg by `record_answers`) gets
  the same status, headers and body amlkg sent for it from its cache; anything else 404. No parsing,
  no lookup beyond one dict: what any cached answer costs at the least in this architecture.
- ``query``: parses ``query`` from the query string, evaluates it with pyoxigraph on the read-only
  store DIR (a version directory; its default graph, or with ``--union`` the union of its graphs) and
  answers SPARQL JSON results. No validation, limits, timeouts, cache or logging: what an uncached
  answer costs at the least.

Both run under granian with the settings of `kg_service serve` (workers = one per core and at least
2, its blocking threads per worker, its HTTP/1 buffer, its event loop, warning-level log, no access
log), read from `kg_service.server` where it exposes them, as a WSGI app (``--interface wsgi``, the
default: Python called straight from granian's threads) or an ASGI one (``--interface asgi``: the
interface `serve` uses, whose front reads bodies on the event loop; the ASGI query floor evaluates on
the loop itself, with no thread hand-over at all). `/health` answers 200 in each.
`benchmarks/sparql_throughput.py --servers wsgi-floor-static,wsgi-floor-query,asgi-floor-static,asgi-floor-query`
runs them beside amlkg.
"""
from __future__ import annotations

import argparse
import http.client
import inspect
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs

HERE = Path(__file__).resolve().parent
SRJ = "application/sparql-results+json"
#: headers the HTTP server writes itself (or that belong to one connection): not part of an answer
_SERVER_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding"}

# settings for the workers, passed in their environment
_ENV_ANSWERS = "AMLKG_FLOOR_ANSWERS"
_ENV_STORE = "AMLKG_FLOOR_STORE"
_ENV_UNION = "AMLKG_FLOOR_UNION"


def _health(start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def static_app():
    """The recorded answers, by query string (granian factory)."""
    recorded = json.loads(Path(os.environ[_ENV_ANSWERS]).read_text(encoding="utf-8"))
    answers = {qs: (a["status"], [tuple(hv) for hv in a["headers"]], a["body"].encode("latin-1"))
               for qs, a in recorded.items()}
    missing = ("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")], b"")

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/health":
            return _health(start_response)
        status, headers, body = answers.get(environ.get("QUERY_STRING", ""), missing)
        start_response(status, headers)
        return [body]

    return app


def query_app():
    """pyoxigraph on the read-only store, SPARQL JSON out (granian factory)."""
    import pyoxigraph as ox
    store = ox.Store.read_only(os.environ[_ENV_STORE])
    union = os.environ.get(_ENV_UNION) == "1"
    json_results = ox.QueryResultsFormat.JSON

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/health":
            return _health(start_response)
        try:
            query = parse_qs(environ.get("QUERY_STRING", ""))["query"][0]
            body = store.query(query, use_default_graph_as_union=union).serialize(format=json_results)
        except (KeyError, SyntaxError, OSError, TypeError, ValueError) as e:
            body = str(e).encode()
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        start_response("200 OK", [("Content-Type", SRJ), ("Content-Length", str(len(body)))])
        return [body]

    return app


def _asgi(wsgi_app):
    """The same app as a bare ASGI one, called on the event loop (no thread hand-over)."""
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        answer = []
        environ = {"PATH_INFO": scope["path"], "QUERY_STRING": (scope.get("query_string") or b"").decode("latin-1")}
        body = wsgi_app(environ, lambda status, headers: answer.extend((status, headers)))
        await send({"type": "http.response.start", "status": int(answer[0][:3]),
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer[1]]})
        await send({"type": "http.response.body", "body": b"".join(body)})
    return app


def static_asgi():
    """`static_app` as ASGI (granian factory)."""
    return _asgi(static_app())


def query_asgi():
    """`query_app` as ASGI (granian factory)."""
    return _asgi(query_app())


# -- recording amlkg's cached answers ------------------------------------------------------------------
def record_answers(port: int, path: str, query_strings: list[str], accept: str = SRJ, tries: int = 40) -> dict:
    """amlkg's cached answer (status, headers, body) to ``GET path?qs`` for each query string, as
    JSON-ready data for `static_app`. Each worker has its own cache: a request is sent again, on a
    new connection, until the answer comes from a cache (``X-AMLKG-Cache: hit``)."""
    out = {}
    for qs in query_strings:
        for _ in range(tries):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path + "?" + qs, headers={"Accept": accept})
                r = conn.getresponse()
                body = r.read()
            finally:
                conn.close()
            if r.status != 200:
                raise RuntimeError("amlkg answered %d to %s?%s" % (r.status, path, qs[:80]))
            if (r.getheader("X-AMLKG-Cache") or "").lower() == "hit":
                out[qs] = {"status": "%d %s" % (r.status, r.reason),
                           "headers": [[k, v] for k, v in r.getheaders() if k.lower() not in _SERVER_HEADERS],
                           "body": body.decode("latin-1")}
                break
        else:
            raise RuntimeError("amlkg never answered %s?%s from its cache" % (path, qs[:80]))
    return out


# -- the server ----------------------------------------------------------------------------------------
def serve(app: str, port: int, host: str = "127.0.0.1", workers: int | None = None, interface: str = "wsgi") -> None:
    """`app` ("static" or "query") under granian, as `kg_service serve` configures it (and, like it,
    `workers` or one per core), as a WSGI or an ASGI app."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    sys.path.insert(0, str(HERE.parent))
    from kg_service import server as kg_server
    threads = inspect.signature(kg_server.serve).parameters["threads"].default
    Granian("floor_app:%s_%s" % (app, "asgi" if interface == "asgi" else "app"), factory=True, working_dir=HERE,
            interface=Interfaces.ASGI if interface == "asgi" else Interfaces.WSGI, loop=kg_server.event_loop(),
            address=host, port=port, workers=workers or kg_server.default_workers(), blocking_threads=threads if interface == "wsgi" else 1,
            http1_settings=HTTP1Settings(max_buffer_size=kg_server.max_request_line()),
            log_level=LogLevels.warning, log_access=False,
            workers_kill_timeout=kg_server.GRACEFUL_TIMEOUT).serve()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("app", choices=("static", "query"))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--workers", type=int, default=None, help="as `kg_service serve --workers` (default: one per core)")
    p.add_argument("--answers", help="static: the recorded answers (JSON, from record_answers)")
    p.add_argument("--store", help="query: a read-only store version directory")
    p.add_argument("--union", action="store_true", help="query: the union of the named graphs as default graph")
    p.add_argument("--interface", choices=("wsgi", "asgi"), default="wsgi")
    args = p.parse_args(argv)
    if args.app == "static":
        if not args.answers:
            p.error("static needs --answers")
        os.environ[_ENV_ANSWERS] = str(Path(args.answers).resolve())
    else:
        if not args.store:
            p.error("query needs --store")
        os.environ[_ENV_STORE] = str(Path(args.store).resolve())
        os.environ[_ENV_UNION] = "1" if args.union else "0"
    serve(args.app, args.port, args.host, args.workers, args.interface)
    return 0


if __name__ == "__main__":
    sys.exit(main())
