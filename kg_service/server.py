"""Run the app under gunicorn (several workers, each opening the store read-only)."""
from __future__ import annotations

import multiprocessing
import os
import sys

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app_factory, options: dict):
        self._factory, self._options = app_factory, options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._factory()


def _worker_exit(_server, _worker) -> None:
    """Leave the worker process at once. A worker recycled after a cut query may still be running
    that query on a helper thread, and Python's exit would wait for it (for as long as it runs)."""
    exc = sys.exc_info()[1]
    code = exc.code if isinstance(exc, SystemExit) else (1 if exc is not None else 0)
    if not isinstance(code, int):
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def default_workers() -> int:
    """Workers sized to the cores (queries run in Rust and release the GIL)."""
    return max(2, multiprocessing.cpu_count())


def serve(host: str, port: int, *, workers: int | None = None, threads: int = 4,
          store: str | None = None) -> None:
    """Serve until interrupted; `store` overrides KG_STORE."""
    from . import create_app
    if store:
        os.environ["KG_STORE"] = store
    os.environ["AMLKG_GUNICORN"] = "1"
    options = {
        "bind": "%s:%d" % (host if ":" not in host else "[%s]" % host, port),
        "workers": workers or default_workers(),
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,
        # SPARQL GET queries can be long: no 4 KB request-line cap (the app answers 414 itself
        # above KG_MAX_QUERY_BYTES, as problem+json)
        "limit_request_line": 0,
        "worker_exit": _worker_exit,
    }
    _Gunicorn(create_app, options).run()
