"""Run the app under a multi-process server: granian (default) or gunicorn.

The granian layout, built from granian's public API only (``granian.Granian`` and its options):

    serve (the supervisor, this module) ─┬─ granian, 1 worker ── worker: ASGI front + Flask app
                                         ├─ granian, 1 worker ── worker: …
                                         └─ … one per worker slot, all on the same port (SO_REUSEPORT)

Why a supervisor of our own: granian respawns a dead worker, but stops the whole server when the
same worker dies again within 5.5 s ("worker crash loop detected") and has no option to change that.
A query that crashes the engine (a stack overflow in pyoxigraph is a SIGSEGV) must cost one worker,
never the service. Each slot is one granian instance with one worker; when an instance ends without
being asked to, the supervisor starts it again after a backoff (`BACKOFF_FIRST` doubling up to
`BACKOFF_MAX` while the slot keeps failing), and never exits while it serves. The other slots keep
accepting on the port meanwhile, so other clients see no gap unless every slot is down at once.

Each worker runs `kg_service.front` (ASGI): the request body is read whole by the event loop, within
``KG_REQUEST_READ_TIMEOUT``, before a thread of the Flask app gets the request; see that module.

A worker whose store was poisoned by a cut query (the runaway evaluation keeps running on a helper
thread; see `store.embedded`) asks to be replaced (`request_recycle`): the supervisor starts a new
instance in its slot, waits `RECYCLE_OVERLAP`, then stops the old one gracefully (its in-flight answers
finish); the worker then leaves with ``os._exit`` (the front's lifespan shutdown) so the runaway thread
dies with it.

``KG_WSGI_SERVER=gunicorn`` selects gunicorn (gthread workers) instead: its arbiter respawns dead
workers itself; it has no read timeout for bodies (put a buffering proxy in front of it).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from multiprocessing.connection import wait as wait_for_exits
from pathlib import Path

SERVERS = ("granian", "gunicorn")
#: seconds a replaced worker may take to finish its in-flight answers before it is killed
GRACEFUL_TIMEOUT = 10
#: seconds a replacement worker gets to load the app before the worker it replaces stops accepting
RECYCLE_OVERLAP = 1.0
#: wait (s) before restarting a slot whose worker ended on its own after it had started serving (a
#: crash in a request): short, so other clients see at most a short gap
BACKOFF_FIRST = 0.05
#: the longest wait (s) before restarting a slot that keeps failing before it serves (a worker that
#: cannot start: the wait doubles from BACKOFF_FIRST up to this)
BACKOFF_MAX = 2.0
#: a slot that stayed up this long (s) is healthy again: its next failure restarts after BACKOFF_FIRST
BACKOFF_RESET = 30.0
#: request threads per worker (the query gate, KG_MAX_CONCURRENT_QUERIES, bounds evaluations)
DEFAULT_THREADS = 8

# set in every worker's environment by `serve`
_ENV_SERVER = "AMLKG_SERVER"            # which server runs the workers
_ENV_SUPERVISOR = "AMLKG_SUPERVISOR_PID"  # the supervisor of the granian instances
_ENV_RECYCLE_DIR = "AMLKG_RECYCLE_DIR"  # where a worker leaves its slot when asking to be replaced
_ENV_SLOT = "AMLKG_SLOT"                # the worker's slot

log = logging.getLogger("kg_service.server")
_recycle_requested = False


def default_workers() -> int:
    """Workers sized to the cores (queries run in Rust and release the GIL)."""
    return max(2, multiprocessing.cpu_count())


def max_request_line(max_query_bytes: int | None = None) -> int:
    """Bytes of request head a worker buffers (headers included); the request target itself is
    bounded by the server at 65,534 bytes whatever this says (see `kg_service.front`).

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

    Called after a cut query (`served_store.ServedStore.recycle_if_poisoned`); a no-op (False) outside
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
    supervisor = int(os.environ.get(_ENV_SUPERVISOR) or 0)
    folder, slot = os.environ.get(_ENV_RECYCLE_DIR), os.environ.get(_ENV_SLOT)
    if supervisor <= 1 or not folder or not slot:
        return False
    try:
        Path(folder, "%s-%d" % (slot, os.getpid())).touch()
        os.kill(supervisor, signal.SIGUSR1)
    except OSError as e:
        log.warning("could not ask for this worker to be replaced: %s", e)
        return False
    _recycle_requested = True
    return True


def worker_ready() -> None:
    """Called by the worker once its app is loaded: a later exit of this slot was a crash while
    serving, restarted at once rather than backed off."""
    folder, slot = os.environ.get(_ENV_RECYCLE_DIR), os.environ.get(_ENV_SLOT)
    if folder and slot and os.environ.get(_ENV_SERVER) == "granian":
        try:
            Path(folder, "ready-%s" % slot).touch()
        except OSError:
            pass


def leave(code: int) -> None:
    """Flush and end the process at once, without waiting for helper threads."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _gunicorn_worker_exit(_server, _worker) -> None:
    """gunicorn's worker_exit hook: leave at once (a cut query may still run on a helper thread)."""
    exc = sys.exc_info()[1]
    code = exc.code if isinstance(exc, SystemExit) else (1 if exc is not None else 0)
    leave(code if isinstance(code, int) else 1)


# -- one granian instance (a child of the supervisor) -----------------------------------------------
def _run_instance(slot: int, options: dict) -> None:
    """Serve one slot: granian with one worker, stopping when the supervisor is gone."""
    os.environ[_ENV_SLOT] = str(slot)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    supervisor = os.getppid()
    _stop_with_parent()

    def orphaned():
        while os.getppid() == supervisor:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # granian's graceful stop
    threading.Thread(target=orphaned, daemon=True, name="amlkg-orphan-watch").start()
    from granian import Granian
    Granian(**options).serve()


def _stop_with_parent() -> None:
    """Linux: SIGTERM (granian's graceful stop) the moment the supervisor dies, so that an orphaned
    instance stops accepting before a new server takes the port; elsewhere the polling thread in
    `_run_instance` notices within half a second."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def event_loop():
    """The workers' event loop: uvloop where it is installed (a declared dependency except on
    Windows), else asyncio's. Named rather than left to granian's ``auto``, so a missing uvloop is a
    choice we see, not a silent halving of the front's throughput."""
    from granian.constants import Loops
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if sys.platform != "win32":
            log.warning("uvloop is not installed: the workers run on asyncio's event loop, which costs "
                        "each request's hand-over to a Flask thread about twice as much")
        return Loops.asyncio
    return Loops.uvloop


def _granian_options(host: str, port: int, threads: int) -> dict:
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    from .config import read
    from .request_log import json_log_config
    settings = read()
    read_timeout_ms = int(float(settings["KG_REQUEST_READ_TIMEOUT"]) * 1000)
    os.environ["AMLKG_THREADS"] = str(threads)
    return dict(
        target="kg_service.front:create_front", factory=True, interface=Interfaces.ASGI,
        loop=event_loop(), address=host, port=port, workers=1,
        http1_settings=HTTP1Settings(max_buffer_size=max_request_line(), header_read_timeout=read_timeout_ms),
        log_level=LogLevels.warning, log_access=False, log_dictconfig=json_log_config(),
        respawn_failed_workers=False,  # the supervisor respawns (granian would stop on a crash loop)
        workers_kill_timeout=GRACEFUL_TIMEOUT,
    )


class Slot:
    """One worker slot: its running instance, and its failure history for the backoff."""

    def __init__(self, index: int):
        self.index = index
        self.proc: multiprocessing.Process | None = None
        self.started = 0.0
        self.started_wall = 0.0
        self.failures = 0
        self.restart_at: float | None = 0.0  # due now

    def backoff(self, now: float, served: bool = False) -> float:
        """The wait before the next start after an unrequested exit at `now`: short when the worker
        had started serving (a request crashed it), doubling while it fails before serving.

        >>> s = Slot(0); s.started = 0.0
        >>> [round(s.backoff(1.0), 2) for _ in range(7)]
        [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
        >>> s.backoff(1.0, served=True), s.failures
        (0.05, 0)
        >>> s.started = 100.0; s.backoff(200.0)
        0.05
        """
        if served or now - self.started >= BACKOFF_RESET:
            self.failures = 0
            if served:
                return BACKOFF_FIRST
        self.failures += 1
        return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))


class Supervisor:
    """Keeps one granian instance running per slot until SIGTERM/SIGINT (see the module docstring)."""

    def __init__(self, workers: int, options: dict):
        self.options = options
        self.slots = [Slot(i) for i in range(workers)]
        self.retiring: list[multiprocessing.Process] = []
        self.stopping = False
        self.recycle = False
        self.recycle_dir = Path(tempfile.mkdtemp(prefix="amlkg-recycle-"))
        self.context = multiprocessing.get_context("fork")
        self.restarts = 0

    def run(self) -> None:
        os.environ[_ENV_SUPERVISOR] = str(os.getpid())
        os.environ[_ENV_RECYCLE_DIR] = str(self.recycle_dir)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_recycle)
        try:
            while not self.stopping:
                self._tick()
        finally:
            self._stop_all()
            import shutil
            shutil.rmtree(self.recycle_dir, ignore_errors=True)

    def _on_stop(self, *_args) -> None:
        self.stopping = True

    def _on_recycle(self, *_args) -> None:
        self.recycle = True

    def _start(self, slot: Slot) -> None:
        proc = self.context.Process(target=_run_instance, args=(slot.index, self.options),
                                    name="amlkg-slot-%d" % slot.index)
        proc.start()
        slot.proc, slot.started, slot.started_wall, slot.restart_at = proc, time.monotonic(), time.time(), None

    def _tick(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.proc is None and slot.restart_at is not None and now >= slot.restart_at:
                self._start(slot)
        if self.recycle:
            self.recycle = False
            self._recycle()
        running = [s.proc.sentinel for s in self.slots if s.proc is not None]
        running += [p.sentinel for p in self.retiring]
        due = [s.restart_at for s in self.slots if s.proc is None and s.restart_at is not None]
        timeout = max(0.0, min([0.2] + [t - now for t in due]))
        if running:
            wait_for_exits(running, timeout)
        else:
            time.sleep(timeout)
        now = time.monotonic()
        for proc in list(self.retiring):
            if not proc.is_alive():
                proc.join()
                self.retiring.remove(proc)
        for slot in self.slots:
            if slot.proc is not None and not slot.proc.is_alive() and not self.stopping:
                code = slot.proc.exitcode
                slot.proc.join()
                slot.proc = None
                delay = slot.backoff(now, served=self._served(slot))
                slot.restart_at = now + delay
                self.restarts += 1
                log.error("worker slot %d ended unexpectedly (exit status %s); restarting it in %.2f s",
                          slot.index + 1, code, delay)

    def _served(self, slot: Slot) -> bool:
        """Did the slot's last worker start serving (its ready mark is newer than its start)?"""
        mark = self.recycle_dir / ("ready-%d" % slot.index)
        try:
            return mark.stat().st_mtime >= slot.started_wall
        except OSError:
            return False

    def _recycle(self) -> None:
        """Replace the instances whose workers asked for it: the new one first, then the old one."""
        asked = set()
        for entry in self.recycle_dir.iterdir():
            if entry.name.startswith("ready-"):
                continue
            slot = entry.name.split("-", 1)[0]
            if slot.isdigit():
                asked.add(int(slot))
            entry.unlink(missing_ok=True)
        for index in sorted(asked):
            if index >= len(self.slots) or self.slots[index].proc is None:
                continue
            slot = self.slots[index]
            old = slot.proc
            self._start(slot)
            self.retiring.append(old)
            time.sleep(RECYCLE_OVERLAP)
            if old.is_alive():
                os.kill(old.pid, signal.SIGTERM)

    def _stop_all(self) -> None:
        procs = [s.proc for s in self.slots if s.proc is not None] + self.retiring
        for proc in procs:
            if proc.is_alive():
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + GRACEFUL_TIMEOUT + 5
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()


def _check_port(host: str, port: int) -> None:
    """Stop at once, with one line, when the port cannot be bound (it is another program's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise SystemExit("error: cannot listen on %s:%d: %s" % (host, port, e.strerror or e)) from None


#: the app's modules, imported once by the supervisor so that a restarted worker only builds the app
#: (about 0.2 s) instead of importing everything again (about 1 s); importing opens no store and
#: starts no thread, so forking after it is safe
PRELOAD = ("kg_service.front", "kg_service.served_store", "kg_service.store.embedded", "kg_service.sparql",
           "kg_service.api", "kg_service.ui", "kg_service.curator", "kg_service.options", "kg_service.question")


def _preload() -> None:
    """Import the app's modules and build the question parser's negation reader (spaCy: about a second
    of CPU) in the supervisor, so that every worker it forks starts with them. numpy's BLAS would start
    a thread pool on import, which a fork must not copy half-way: one BLAS thread is all the reader
    needs (a worker evaluates no linear algebra)."""
    import importlib
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from . import negation
    negation.reader()


def _serve_granian(host: str, port: int, workers: int, threads: int) -> None:
    from .request_log import route_library_logs
    route_library_logs()
    _preload()
    _check_port(host, port)
    Supervisor(workers, _granian_options(host, port, threads)).run()


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


def serve(host: str, port: int, *, workers: int | None = None, threads: int = DEFAULT_THREADS,
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
