"""Run the app under gunicorn (several workers, each opening the store read-only)."""
from __future__ import annotations

import multiprocessing
import os

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
    }
    _Gunicorn(create_app, options).run()
