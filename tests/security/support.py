"""Helpers for the security and fault tests: a `serve` process in its own process group (so a test can
SIGKILL all of it, as a service manager does), stores copied from the session's build, small HTTP
helpers that never raise on an error status."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, free_port

TOKEN = "curator-token-for-tests-0123456789"
CURATOR = "https://w3id.org/amlkg/graph/curator"
JSON_RESULTS = "application/sparql-results+json"


def copy_store(source: str, target: Path) -> str:
    """A private copy of a built store (its `current` symlink is relative, so the copy stands alone)."""
    shutil.copytree(source, target, symlinks=True)
    return str(target)


def served_version(store: str) -> str:
    """The version directory `current` points at."""
    return os.path.basename(os.path.realpath(Path(store) / "current"))


def live_group_members(pgid: int) -> list[int]:
    """Processes of process group `pgid` still running (zombies left for init to reap are not)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(pgid: int, timeout: float = 20.0) -> list[int]:
    """Wait until no process of group `pgid` runs; the ones still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while (left := live_group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def http(method: str, url: str, data: bytes | None = None, headers: dict | None = None,
         timeout: float = 30.0):
    """(status, headers, body) of one request; error statuses are returned, not raised. The headers
    are looked up case-insensitively."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def sparql(base: str, query: str, timeout: float = 30.0) -> tuple[int, dict]:
    status, _h, body = http("GET", base + "/sparql?" + urllib.parse.urlencode({"query": query}),
                            headers={"Accept": JSON_RESULTS}, timeout=timeout)
    return status, (json.loads(body) if body else {})


def curator_update(base: str, text: str, token: str = TOKEN) -> tuple[int, dict]:
    status, _h, body = http("POST", base + "/curator/update", data=text.encode(),
                            headers={"Content-Type": "application/sparql-update",
                                     "Authorization": "Bearer " + token})
    return status, json.loads(body) if body else {}


def curated_values(base: str) -> set[str]:
    """The objects of <urn:amlkg-test:note> in the curators' graph, as served."""
    status, doc = sparql(base, "SELECT ?o WHERE { GRAPH <%s> { ?s <urn:amlkg-test:note> ?o } }" % CURATOR)
    assert status == 200, doc
    return {b["o"]["value"] for b in doc["results"]["bindings"]}


class ServeProcess:
    """`python -m kg_service serve` in its own session; `kill9()` kills the whole process group."""

    def __init__(self, store: str, env: dict | None = None, workers: int = 2, port: int | None = None,
                 log: Path | None = None):
        self.store, self.workers = store, workers
        self.env = {**os.environ, "KG_REFRESH_INTERVAL": "0.2", **(env or {})}
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = log or Path(store).parent / ("serve-%d.log" % self.port)
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True, timeout: float = 60.0) -> "ServeProcess":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kg_service", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--store", self.store, "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited %s: %s" % (self.proc.returncode, self.output()[-3000:]))
            try:
                if http("GET", self.url + "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("serve not ready after %.0f s: %s" % (timeout, self.output()[-3000:]))

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill9(self) -> None:
        """SIGKILL the master and every worker at once."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None
        self.log.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill9()
            return
        self.proc = None
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
