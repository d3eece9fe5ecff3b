"""What `serve` tells a person at the terminal: one short block once the service answers (only when
stdout is a terminal: a pipe or a log file reading it gets no prose among the records).

The block says that it is ready, where it listens, and the three entry points (`/`, `/sparql`,
`/api/docs`). The JSON request log is for machines: when stderr is a terminal and the log would go
there (the default, `KG_REQUEST_LOG=stderr` not set explicitly), it goes to a file instead,
`<the store's folder>/log/requests.jsonl` (`var/log/requests.jsonl` for `make run`), and the block
says where. When stderr is not a terminal (a service manager, a pipe, a container) it stays on
stderr as before. An explicit `KG_REQUEST_LOG` is always obeyed.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

ENTRY_POINTS = (("/", "the options finder, for people"),
                ("/sparql", "the SPARQL endpoint (a query page in a browser)"),
                ("/api/docs", "the JSON API for apps (OpenAPI: /openapi.json)"))


def request_log_file(store: str) -> Path:
    """Where the request log goes when stderr is a terminal.

    >>> str(request_log_file("var/store")), str(request_log_file("http://127.0.0.1:7878/query"))
    ('var/log/requests.jsonl', 'var/log/requests.jsonl')
    """
    base = Path("var") if store.startswith(("http://", "https://")) else Path(store).parent
    return base / "log" / "requests.jsonl"


def route_request_log(store: str, *, stderr=None, environ=None) -> str:
    """Keep the JSON request log off a terminal: point KG_REQUEST_LOG (inherited by the workers) at
    a file when stderr is a terminal and no log destination was chosen. Returns the destination."""
    stderr = sys.stderr if stderr is None else stderr
    environ = os.environ if environ is None else environ
    chosen = environ.get("KG_REQUEST_LOG")
    if chosen is not None:
        return chosen
    try:
        tty = stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return "stderr"
    path = request_log_file(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        environ["KG_REQUEST_LOG"] = "off"
        return "off"
    environ["KG_REQUEST_LOG"] = str(path)
    return str(path)


def banner(url: str, health: dict, log_to: str) -> str:
    """The block itself.

    >>> print(banner("http://127.0.0.1:8080", {"triples": 3, "graph_version": "abcdef0123456789"}, "stderr"))
    amlkg is ready at http://127.0.0.1:8080/  (graph abcdef012345, 3 triples)
      http://127.0.0.1:8080/           the options finder, for people
      http://127.0.0.1:8080/sparql     the SPARQL endpoint (a query page in a browser)
      http://127.0.0.1:8080/api/docs   the JSON API for apps (OpenAPI: /openapi.json)
      request log (JSON lines): stderr;  stop: Ctrl-C.  Not medical advice.
    """
    width = max(len(url + path) for path, _ in ENTRY_POINTS) + 3
    lines = ["amlkg is ready at %s/  (graph %s, %s triples)"
             % (url, str(health.get("graph_version", ""))[:12], health.get("triples", "?"))]
    lines += ["  %s%s" % ((url + path).ljust(width), what) for path, what in ENTRY_POINTS]
    lines.append("  request log (JSON lines): %s;  stop: Ctrl-C.  Not medical advice." % log_to)
    return "\n".join(lines)


def service_url(host: str, port: int) -> str:
    """The URL a person opens (a wildcard address is reached on loopback).

    >>> service_url("0.0.0.0", 80), service_url("::", 8080), service_url("127.0.0.1", 8080)
    ('http://127.0.0.1:80', 'http://[::1]:8080', 'http://127.0.0.1:8080')
    """
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return "http://%s:%d" % ("[%s]" % host if ":" in host else host, port)


def announce_when_ready(host: str, port: int, log_to: str, *, out=None, timeout: float = 300.0) -> threading.Thread:
    """Print the block on `out` (stdout) once `/health` answers, from a background thread."""
    url = service_url(host, port)

    def wait_and_print() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    health = json.loads(r.read())
                stream = out or sys.stdout
                stream.write(banner(url, health, log_to) + "\n")
                stream.flush()
                return
            except (OSError, ValueError):
                time.sleep(0.2)

    thread = threading.Thread(target=wait_and_print, name="amlkg-ready-banner", daemon=True)
    thread.start()
    return thread
