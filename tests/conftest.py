"""Shared fixtures: the real graph built once per session, the app, and a real server over HTTP.

`live_server` is parametrized over the two store backends: every test that uses it (the JSON API
and SPARQL endpoint tests over HTTP) runs once against the service serving the embedded store and
once against the service serving a real `oxigraph serve` (PyPI `oxigraph`) through the remote
backend, the same graph built into each. Both servers start only when a test first needs them, one
at a time (pytest groups the tests by backend). A test that only makes sense on one backend says so
with ``@pytest.mark.backends("embedded")``; its other variants are skipped with the reason.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.store.store_support import OxigraphServer

#: the store backends `live_server` runs each test against
BACKENDS = ("embedded", "remote")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SOURCE_TEXT = ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt"


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared, or skip: the shared checkers live beside the project, not in it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip("../shared is absent (the checkers live beside the project in CI): %s" % path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> set[int]:
    """Child processes of `pid` (a server's workers), from /proc."""
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children.add(int(entry))
            except (OSError, ValueError):
                continue
    return children


def worker_pids(pid: int) -> set[int]:
    """The processes under a server that answer requests: its descendants without children of their own
    (`serve` supervises one granian instance per slot, each with its worker)."""
    found, todo = set(), [pid]
    while todo:
        kids = child_pids(todo.pop())
        todo.extend(kids)
        found |= {k for k in kids if not child_pids(k)}
    return found


@pytest.fixture()
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the project's build inputs in tmp_path, which `loaders.build` reads instead of the real ones."""
    import shutil

    import loaders.build as build_module
    root = tmp_path / "project"
    (root / "loaders").mkdir(parents=True)
    shutil.copy(ROOT / "loaders" / "sources.yaml", root / "loaders" / "sources.yaml")
    shutil.copytree(ROOT / "loaders" / "data", root / "loaders" / "data")
    shutil.copytree(ROOT / "ontology", root / "ontology")
    monkeypatch.setattr(build_module, "SOURCES", root / "loaders" / "sources.yaml")
    monkeypatch.setattr(build_module, "ROOT", root)
    return root


@pytest.fixture(scope="session")
def store_path(tmp_path_factory) -> str:
    """The real graph, built from the project's sources into a temporary store."""
    from loaders.build import build
    path = tmp_path_factory.mktemp("store") / "store"
    build(str(path), release_dir=str(path.parent / "release"), log=lambda *a: None)
    return str(path)


@pytest.fixture(scope="session")
def store(store_path):
    from kg_service.store import open_store
    s = open_store(store_path, read_only=True)
    yield s
    s.close()


@pytest.fixture()
def app(store_path):
    from kg_service import create_app
    return create_app({"TESTING": True, "KG_STORE": store_path})


@pytest.fixture()
def client(app):
    return app.test_client()


class LiveServer:
    """A real `python -m kg_service serve` process on a free loopback port.

    `store` is a store directory or a remote SPARQL endpoint URL; the server's log goes to
    `log_dir` (default: beside a store directory, else the system's temporary directory).
    """

    def __init__(self, store: str, env: dict | None = None, workers: int = 2, log_dir: str | Path | None = None):
        self.store = store
        self.backend = "remote" if store.startswith(("http://", "https://")) else "embedded"
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        if log_dir is None:
            log_dir = Path(store).parent if self.backend == "embedded" else Path(os.environ.get("TMPDIR", "/tmp"))
        self.log = open(Path(log_dir) / ("server-%d.log" % self.port), "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kg_service", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--store", store, "--workers", str(workers)],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("server exited: %s" % self.log.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server not ready after %.0f s" % timeout)

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


class OxigraphProcess(OxigraphServer):
    """`oxigraph serve` on a free loopback port, over a database directory; stoppable and restartable
    on the same port and data (to play a remote store going down and coming back). Its default graph
    is kept apart from the named graphs (as Fuseki's is) unless `union_default_graph`."""

    def __init__(self, location: Path, *, timeout_s: int | None = 30, union_default_graph: bool = False):
        super().__init__(location, timeout_s=timeout_s, union_default_graph=union_default_graph)

    def build(self, release_dir: Path) -> str:
        """`loaders.build.build` into this server (Graph Store Protocol PUTs); the graph version."""
        from loaders.build import build
        with environment(KG_STORE_GSP_URL=self.gsp_url):
            return build(self.query_url, release_dir=str(release_dir), log=lambda *a: None)


@contextlib.contextmanager
def environment(**values):
    """Set environment variables for the duration of a block (session fixtures have no monkeypatch)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _built_oxigraph(tmp_path_factory, name: str, union_default_graph: bool):
    root = tmp_path_factory.mktemp(name)
    server = OxigraphProcess(root / "db", union_default_graph=union_default_graph).start()
    try:
        server.build(root / "release")
        yield server.query_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def remote_store_url(tmp_path_factory) -> str:
    """The real graph built into a real `oxigraph serve` on loopback whose default graph is kept apart
    from the named graphs (as Fuseki's is): a remote store's query URL."""
    yield from _built_oxigraph(tmp_path_factory, "remote-store", False)


@pytest.fixture(scope="session")
def union_remote_store_url(tmp_path_factory) -> str:
    """The same, on an `oxigraph serve --union-default-graph` (a default graph that is the union of
    the named graphs, as Virtuoso's and GraphDB's are)."""
    yield from _built_oxigraph(tmp_path_factory, "union-remote-store", True)


def _start_live_server(backend: str, request) -> LiveServer:
    if backend == "embedded":
        return LiveServer(request.getfixturevalue("store_path"))
    url = request.getfixturevalue("remote_store_url")
    return LiveServer(url, log_dir=request.getfixturevalue("tmp_path_factory").mktemp("live-remote"))


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(request):
    """The real service over real HTTP (granian, 2 workers), once per store backend: serving the
    embedded store, then a real `oxigraph serve` through the remote backend. Shared by the session."""
    server = _start_live_server(request.param, request)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_live_server(request):
    """The service over the embedded store only, for tests that are about that backend."""
    server = _start_live_server("embedded", request)
    yield server
    server.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run a live_server test only on these store backends")


def pytest_collection_modifyitems(config, items):
    """Skip the live_server variants a test's `backends` marker leaves out."""
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None or "live_server" not in callspec.params:
            continue
        backend = callspec.params["live_server"]
        if backend not in marker.args:
            item.add_marker(pytest.mark.skip(reason=marker.kwargs.get("reason") or
                                             "runs on the %s backend only" % " and ".join(marker.args)))
