"""Shared pieces of the benchmarks: servers on loopback, a bounded load generator, CPU accounting.

Every server is started on a free 127.0.0.1 port and stopped by its own process id; every load is
bounded in time (``wrk -d``) and in connections. `wrk` (Debian package ``wrk``) is the load
generator when installed, else a Python client with the same shape (one keep-alive connection per
client, requests back to back, each client its own process).
"""
from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import itertools
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SRJ = "application/sparql-results+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str | None:
    """A command from the virtualenv's bin directory, else from PATH."""
    candidate = Path(PYTHON).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


# -- stores -------------------------------------------------------------------------------------------
def build_store(store: str, release_dir: str) -> float:
    """`python -m kg_service build` as a user runs it; seconds taken (process start included)."""
    t = time.perf_counter()
    subprocess.run([PYTHON, "-m", "kg_service", "build", "--store", store, "--release-dir", release_dir],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def ensure_built(workdir: Path, store: str | None = None) -> tuple[str, Path]:
    """A built store and its release directory: `store` if given (release files from var/release),
    else a fresh build under `workdir`."""
    if store:
        release = ROOT / "var" / "release"
        if not (release / "amlkg.nq").exists():
            release = workdir / "release"
            build_store(str(workdir / "rebuilt-store"), str(release))
        return store, release
    path, release = workdir / "store", workdir / "release"
    build_store(str(path), str(release))
    return str(path), release


def publish_graphs(root: Path, graphs: dict[str, bytes], version: str) -> str:
    """Write graphs (IRI -> N-Triples) as an embedded store the service can serve."""
    sys.path.insert(0, str(ROOT))
    from kg_service.store.embedded import EmbeddedStore
    writer = EmbeddedStore(str(root), read_only=False)
    try:
        writer.publish(graphs, version)
    finally:
        writer.close()
    return str(root)


def graphs_of_release(release: Path) -> dict[str, bytes]:
    """The built graphs, read back from the release's N-Quads (IRI -> N-Triples)."""
    import pyoxigraph as ox
    out: dict[str, list[str]] = {}
    for q in ox.parse(path=str(release / "amlkg.nq"), format=ox.RdfFormat.N_QUADS):
        out.setdefault(q.graph_name.value, []).append("%s %s %s ." % (q.subject, q.predicate, q.object))
    return {g: ("\n".join(lines) + "\n").encode() for g, lines in out.items()}


# -- processes ------------------------------------------------------------------------------------------
class Server:
    """A server process on loopback, stopped by its own id (and its children with it)."""

    def __init__(self, name: str, cmd: list[str], port: int, ready_path: str, *, env: dict | None = None,
                 cwd: Path = ROOT, log: Path | None = None, ready_accept: str = "*/*", timeout: float = 60.0):
        self.name, self.port, self.cmd = name, port, cmd
        self.base = "http://127.0.0.1:%d" % port
        self.log = open(log, "wb") if log else subprocess.DEVNULL
        self.started = time.perf_counter()
        self.log_path = Path(log) if log else None
        self.proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self.ready_after = wait_http(self.base + ready_path, timeout, proc=self.proc, accept=ready_accept)
        except BaseException as e:  # never leave a server behind that did not start
            self.stop()
            if isinstance(e, RuntimeError) and self.log_path:
                raise RuntimeError("%s: %s; its log ends:\n%s" % (
                    name, e, self.log_path.read_text(errors="replace")[-2000:])) from None
            raise

    def pids(self) -> set[int]:
        return process_tree(self.proc.pid)

    def rss_mb(self) -> float:
        return sum(rss_kb(p) for p in self.pids()) / 1024

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and its workers
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.log is not subprocess.DEVNULL:
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def amlkg_command(store: str, port: int, workers: int | None = None) -> list[str]:
    """`python -m kg_service serve` over `store` on a loopback port, as a user runs it."""
    cmd = [PYTHON, "-m", "kg_service", "serve", "--host", "127.0.0.1", "--port", str(port), "--store", store]
    return cmd + (["--workers", str(workers)] if workers else [])


def amlkg_server(store: str, *, name: str = "amlkg", env: dict | None = None, workers: int | None = None,
                 log: Path | None = None, timeout: float = 60.0) -> Server:
    """amlkg (`amlkg_command`) on a free loopback port, once /health answers; `env` adds settings
    (e.g. KG_WSGI_SERVER)."""
    port = free_port()
    return Server(name, amlkg_command(store, port, workers), port, "/health", env=env, log=log, timeout=timeout)


def wait_http(url: str, timeout: float, *, proc: subprocess.Popen | None = None, accept: str = "*/*") -> float:
    """Seconds until `url` answers 200 (polling every 20 ms)."""
    t0 = time.perf_counter()
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s before answering" % (url, proc.returncode))
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=2) as r:
                if r.status == 200:
                    r.read()
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("%s did not answer within %.0f s" % (url, timeout))


def process_tree(pid: int) -> set[int]:
    """`pid` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return tree


def cpu_seconds(pids) -> float:
    """User + system CPU seconds used so far by `pids` (threads included)."""
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- load -------------------------------------------------------------------------------------------------
@dataclass
class Load:
    """What one load run measured."""
    requests: int
    seconds: float
    errors: int                       # non-2xx answers and socket errors
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu_us: float | None = None  # server CPU per request (all its processes), µs
    generator: str = "wrk"
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rps"] = round(self.rps, 1)
        return d


_WRK_SCRIPT = r"""
-- `tid` is a global of each thread's own Lua state, set by setup() from the main state (a local
-- here would be captured by request() and stay 0 in every thread: threads would repeat each other)
local counter = 0
local threads = 0
local path = os.getenv("AMLKG_BENCH_PATH")
local run = os.getenv("AMLKG_BENCH_RUN")
local vary = os.getenv("AMLKG_BENCH_VARY")
local accept = os.getenv("AMLKG_BENCH_ACCEPT")
local headers = {["Accept"] = accept}
-- vary == "profile": an options profile never asked before (benchmarks/options_cold.py defines them)
local function split(text)
  local out = {}
  for item in string.gmatch(text or "", "([^|]*)|?") do out[#out + 1] = item end
  if #out > 0 and out[#out] == "" then out[#out] = nil end
  return out
end
local statuses = split(os.getenv("AMLKG_BENCH_STATUSES"))
local mutations = split(os.getenv("AMLKG_BENCH_MUTATIONS"))
local months = split(os.getenv("AMLKG_BENCH_MONTHS"))
local function pick(list) return list[math.random(#list)] end
local function profile()
  local q = "status=" .. pick(statuses) .. "&mutations=" .. pick(mutations) .. "&remission_months=" ..
            string.format("%.9f", tonumber(pick(months)) + ((tonumber(run) % 1000) * 1000000 + tid * 100000 + counter) * 1e-9)
  if math.random() < 0.5 then q = q .. "&age=" .. tostring(math.random(20, 90)) end
  if math.random() < 0.2 then q = q .. "&fit=" .. pick({"yes", "no"}) end
  return q
end
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function(args) math.randomseed(os.time() * 7919 + (tid or 0)) end
request = function()
  counter = counter + 1
  if vary == "profile" then
    return wrk.format("GET", path .. profile(), headers)
  elseif vary == "comment" then
    return wrk.format("GET", path .. "%23" .. run .. "-" .. tostring(tid) .. "-" .. tostring(counter), headers)
  elseif vary == "digits" then
    return wrk.format("GET", path .. run .. tostring(tid) .. "0" .. tostring(counter), headers)
  end
  return wrk.format("GET", path, headers)
end
"""


#: what makes one load's varied requests differ from every other load's in this process (a server
#: may still hold the answers of an earlier load with the same client and request numbers)
_RUNS = itertools.count(random.randrange(10 ** 6))


def _suffix(vary: str | None, client: int, n: int, run: str = "000000") -> str:
    """What makes request `n` of `client` in load `run` (six digits) unique: a SPARQL comment, or
    digits (e.g. of a number).

    >>> _suffix("comment", 1, 5, "000042"), _suffix("digits", 1, 5, "000042"), _suffix(None, 1, 5)
    ('%23000042-1-5', '000042105', '')
    """
    if vary == "comment":
        return "%%23%s-%d-%d" % (run, client, n)
    if vary == "digits":
        return "%s%d0%d" % (run, client, n)
    return ""


#: the values an options profile is drawn from (vary="profile"), set by options_cold.py
PROFILE_VALUES: dict[str, str] = {}


def _wrk(base: str, path: str, vary: str | None, connections: int, seconds: float, accept: str, run: str) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_WRK_SCRIPT)
        script = f.name
    try:
        env = {**os.environ, "AMLKG_BENCH_PATH": path, "AMLKG_BENCH_VARY": vary or "",
               "AMLKG_BENCH_ACCEPT": accept, "AMLKG_BENCH_RUN": run, **PROFILE_VALUES}
        out = subprocess.run(
            ["wrk", "-t%d" % min(connections, 2), "-c%d" % connections, "-d%ds" % max(1, round(seconds)),
             "--timeout", "10s", "--latency", "-s", script, base],
            capture_output=True, text=True, env=env, timeout=seconds + 30).stdout
    finally:
        os.unlink(script)
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not m:
        raise RuntimeError("unreadable wrk output:\n" + out)
    n, dur = int(m.group(1)), float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    errors = 0
    m2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m2:
        errors += int(m2.group(1))
    m3 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m3:
        errors += sum(int(x) for x in m3.groups())
    pct = {k: _ms(v) for k, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    m4 = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)  # avg, stdev, max
    return Load(n, dur, errors, pct.get("50"), pct.get("99"), generator="wrk",
                extra={"max_ms": _ms(m4.group(1))} if m4 else {})


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _client(port: int, path: str, vary: str | None, accept: str, run: str, cid: int, seconds: float, start,
            out) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat, errors, i = [], 0, 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        i += 1
        p = path + _suffix(vary, cid + 1, i, run)
        t = time.perf_counter()
        try:
            conn.request("GET", p, headers={"Accept": accept})
            r = conn.getresponse()
            r.read()
            if r.status >= 300:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat.append(time.perf_counter() - t)
    conn.close()
    out.put((lat, errors))


def run_clients(target, client_args: list[tuple], seconds: float) -> tuple[list, float]:
    """One forked process per tuple in `client_args`, each running ``target(*args, start, out)``:
    released together by the event `start`, each puts its result on the queue `out`. The results,
    and the seconds from the release to the last result."""
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start, out)) for args in client_args]
    for p in procs:
        p.start()
    time.sleep(0.2)
    t = time.perf_counter()
    start.set()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    elapsed = time.perf_counter() - t
    for p in procs:
        p.join(10)
    return results, elapsed


def p50_p99_ms(latencies: list[float]) -> tuple[float | None, float | None]:
    """The median and 99th percentile of latencies in seconds, in ms.

    >>> p50_p99_ms([0.003, 0.001, 0.002]), p50_p99_ms([])
    ((2.0, 3.0), (None, None))
    """
    lat = sorted(latencies)
    if not lat:
        return None, None
    return 1000 * lat[len(lat) // 2], 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def _python_load(base: str, path: str, vary: str | None, connections: int, seconds: float, accept: str,
                 run: str) -> Load:
    port = int(base.rsplit(":", 1)[1])
    results, elapsed = run_clients(_client, [(port, path, vary, accept, run, c, seconds) for c in range(connections)],
                                   seconds)
    lat = [x for r, _ in results for x in r]
    return Load(len(lat), elapsed, sum(e for _, e in results), *p50_p99_ms(lat), generator="python")


def load(server: Server, path: str, *, vary: str | bool | None, connections: int, seconds: float,
         accept: str = SRJ, generator: str | None = None) -> Load:
    """Requests back to back on `connections` keep-alive connections for `seconds`. With `vary`
    ("comment", or True; or "digits") each request differs from every other (a counter in a trailing
    SPARQL comment, or digits appended to the path; each load's own), so no cache can answer it."""
    vary = "comment" if vary is True else (vary or None)
    use_wrk = (generator or ("wrk" if shutil.which("wrk") else "python")) == "wrk"
    pids = server.pids()
    c0 = cpu_seconds(pids)
    generate = _wrk if use_wrk else _python_load
    result = generate(server.base, path, vary, connections, seconds, accept, "%06d" % (next(_RUNS) % 10 ** 6))
    used = cpu_seconds(pids) - c0
    if result.requests:
        result.server_cpu_us = round(1e6 * used / result.requests, 1)
    return result


def check_answer(server: Server, path: str, accept: str = SRJ) -> dict:
    """One request: the decoded SPARQL JSON answer (the benchmark refuses to time wrong answers)."""
    req = urllib.request.Request(server.base + path, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
        if r.status != 200:
            raise RuntimeError("%s %s -> %d" % (server.name, path, r.status))
    return json.loads(body)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def machine() -> dict:
    """What the figures were measured on."""
    load1 = os.getloadavg()[0]
    return {"cores": os.cpu_count(), "python": sys.version.split()[0], "wrk": bool(shutil.which("wrk")),
            "load_average_at_start": round(load1, 2), "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
