"""Run the app under a multi-process WSGI server: granian (default) or gunicorn.

Each worker process opens the store read-only. A worker whose store was poisoned by a cut query
(the runaway evaluation keeps running on a helper thread; see `store.embedded`) asks to be replaced:
the server starts a fresh worker, then stops the old one gracefully (its in-flight answers finish)
and the old process leaves with ``os._exit``, so the runaway thread dies with it instead of holding
the exit (and a core) for as long as the query runs. The other workers keep answering meanwhile.

granian is the default because it measured faster here (see benchmarks/README.md): about 2.5x
gunicorn's throughput on cached answers and on a par uncached. ``KG_WSGI_SERVER=gunicorn`` selects
gunicorn (gthread workers) instead; both take the same `serve()` arguments.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

SERVERS = ("granian", "gunicorn")
#: seconds a replaced worker may take to finish its in-flight answers before it is killed
GRACEFUL_TIMEOUT = 10
#: seconds a replacement worker gets to load the app before the worker it replaces stops accepting
RECYCLE_OVERLAP = 1.0
#: a worker dying on its own again within this many seconds of being respawned stops the server
CRASH_LOOP_SECONDS = 5.5

# set in every worker's environment by `serve`
_ENV_SERVER = "AMLKG_SERVER"            # which server runs the workers
_ENV_PARENT = "AMLKG_SERVER_PID"        # the granian main process
_ENV_RECYCLE_DIR = "AMLKG_RECYCLE_DIR"  # where a granian worker leaves its pid when asking to go

log = logging.getLogger("kg_service.server")
_recycle_requested = False


def default_workers() -> int:
    """Workers sized to the cores (queries run in Rust and release the GIL)."""
    return max(2, multiprocessing.cpu_count())


def max_request_line(max_query_bytes: int | None = None) -> int:
    """Bytes of request head a worker accepts: a GET may carry a query of KG_MAX_QUERY_BYTES,
    percent-encoded (up to 3x), so the app can answer 414 itself rather than the server dropping it.

    >>> max_request_line(1_000_000)
    3065536
    """
    if max_query_bytes is None:
        from .config import DEFAULTS
        raw = os.environ.get("KG_MAX_QUERY_BYTES")
        max_query_bytes = int(raw) if raw and raw.isdigit() else int(DEFAULTS["KG_MAX_QUERY_BYTES"])
    return 3 * max_query_bytes + 64 * 1024


# -- the worker's side ------------------------------------------------------------------------------
def request_recycle() -> bool:
    """Ask the server running this process to replace it once its in-flight answers are sent.

    Called after a cut query (`dataset.ServedStore.recycle_if_poisoned`); a no-op (False) outside
    a server that can replace workers, e.g. under Flask's test client. Asks only once per process.
    """
    global _recycle_requested
    kind = os.environ.get(_ENV_SERVER)
    if kind == "gunicorn" or os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        os.kill(os.getpid(), signal.SIGTERM)  # gunicorn: graceful exit, the arbiter spawns another
        return True
    if kind != "granian":
        return False
    if _recycle_requested:
        return True
    parent = int(os.environ.get(_ENV_PARENT) or 0)
    folder = os.environ.get(_ENV_RECYCLE_DIR)
    if parent <= 1 or os.getppid() != parent or not folder:
        return False  # not a worker of our granian main process (or orphaned): nobody to ask
    try:
        Path(folder, str(os.getpid())).touch()
        os.kill(parent, signal.SIGUSR1)
    except OSError as e:
        log.warning("could not ask for this worker to be replaced: %s", e)
        return False
    _recycle_requested = True
    return True


def _leave(code) -> None:
    """Flush and leave the process at once, without waiting for helper threads."""
    if not isinstance(code, int):
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _gunicorn_worker_exit(_server, _worker) -> None:
    """gunicorn's worker_exit hook: leave at once (a cut query may still run on a helper thread)."""
    exc = sys.exc_info()[1]
    _leave(exc.code if isinstance(exc, SystemExit) else (1 if exc is not None else 0))


def _granian_wsgi_worker(*args, **kwargs) -> None:
    """granian's WSGI worker, then `os._exit`: once granian has finished the worker's in-flight
    answers after SIGTERM, nothing else is worth waiting for."""
    from granian.server import MPServer
    code = 0
    try:
        MPServer._spawn_wsgi_worker(*args, **kwargs)
    except SystemExit as e:
        code = e.code
    except BaseException:  # noqa: BLE001 - report, then leave with a failure code
        import traceback
        traceback.print_exc()
        code = 1
    _leave(code)


# -- granian's main process -------------------------------------------------------------------------
def _granian_server_class():
    from granian.server import MPServer

    class RecyclingGranian(MPServer):
        """granian's process manager, plus: replace a worker that asks for it (SIGUSR1 + its pid in
        the recycle folder), and respawn a worker that died, unless it keeps dying."""

        recycle_signal = False

        def startup(self, spawn_target, target_loader):
            self._recycle_dir = Path(os.environ[_ENV_RECYCLE_DIR])
            self._crashed_at: dict[int, float] = {}
            signal.signal(signal.SIGUSR1, self._on_recycle)  # before any worker can send it
            super().startup(spawn_target, target_loader)

        def _on_recycle(self, *_args):
            self.recycle_signal = True
            self.main_loop_interrupt.set()

        def _serve_loop(self, spawn_target, target_loader):
            while True:
                self.main_loop_interrupt.wait()
                self.main_loop_interrupt.clear()
                if self.interrupt_signal:
                    break
                if self.recycle_signal:
                    self.recycle_signal = False
                    self._recycle(spawn_target, target_loader)
                if self.interrupt_children:
                    dead = sorted(set(self.interrupt_children))
                    self.interrupt_children.clear()
                    now = time.monotonic()
                    if any(now - self._crashed_at.get(i, -1e9) <= CRASH_LOOP_SECONDS for i in dead):
                        logging.getLogger("granian").error("worker crash loop detected, exiting")
                        self.interrupt_children.extend(dead)  # shutdown() then exits with 1
                        break
                    for i in dead:
                        self._crashed_at[i] = now
                    self._respawn_workers(dead, spawn_target, target_loader)
                if self.reload_signal:
                    self._reload(spawn_target, target_loader)

        def _recycle(self, spawn_target, target_loader):
            pids = set()
            for entry in self._recycle_dir.iterdir():
                if entry.name.isdigit():
                    pids.add(int(entry.name))
                entry.unlink(missing_ok=True)
            for wrk in list(self.wrks):
                if wrk._id() in pids:
                    self._respawn_workers([wrk.idx], spawn_target, target_loader, delay=RECYCLE_OVERLAP)

        def shutdown(self, exit_code=0):
            try:
                super().shutdown(exit_code)
            finally:
                import shutil
                shutil.rmtree(self._recycle_dir, ignore_errors=True)

    return RecyclingGranian


def _serve_granian(host: str, port: int, workers: int, threads: int) -> None:
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    os.environ[_ENV_PARENT] = str(os.getpid())
    os.environ[_ENV_RECYCLE_DIR] = tempfile.mkdtemp(prefix="amlkg-recycle-")
    server = _granian_server_class()(
        "kg_service:create_app", factory=True, interface=Interfaces.WSGI,
        address=host, port=port, workers=workers, blocking_threads=threads,
        http1_settings=HTTP1Settings(max_buffer_size=max_request_line()),
        log_level=LogLevels.warning, log_access=False,
        workers_kill_timeout=GRACEFUL_TIMEOUT,
    )
    server.serve(spawn_target=_granian_wsgi_worker)


# -- gunicorn ---------------------------------------------------------------------------------------
def _serve_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from . import create_app

    class Gunicorn(BaseApplication):
        def __init__(self, options: dict):
            self._options = options
            super().__init__()

        def load_config(self):
            for key, value in self._options.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    Gunicorn({
        "bind": "%s:%d" % (host if ":" not in host else "[%s]" % host, port),
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": 60,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,
        # SPARQL GET queries can be long: no 4 KB request-line cap (the app answers 414 itself
        # above KG_MAX_QUERY_BYTES, as problem+json)
        "limit_request_line": 0,
        "worker_exit": _gunicorn_worker_exit,
    }).run()


def serve(host: str, port: int, *, workers: int | None = None, threads: int = 4,
          store: str | None = None, server: str | None = None) -> None:
    """Serve until interrupted; `store` overrides KG_STORE, `server` KG_WSGI_SERVER (granian)."""
    if store:
        os.environ["KG_STORE"] = store
    kind = (server or os.environ.get("KG_WSGI_SERVER") or "granian").lower()
    if kind not in SERVERS:
        raise SystemExit("KG_WSGI_SERVER must be one of %s, not %r" % (", ".join(SERVERS), kind))
    os.environ[_ENV_SERVER] = kind
    workers = workers or default_workers()
    if kind == "granian":
        _serve_granian(host, port, workers, threads)
    else:
        _serve_gunicorn(host, port, workers, threads)


__all__ = ["serve", "request_recycle", "default_workers", "SERVERS"]
