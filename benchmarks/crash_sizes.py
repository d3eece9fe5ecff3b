"""At what size does pyoxigraph crash on each class of long query construct? Re-run after upgrading it.

pyoxigraph's parser and evaluator recurse on the query's structure, and a deep enough recursion
overflows the thread's stack, which kills the whole process (SIGSEGV / SIGABRT) rather than raising.
For every construct class below, this script builds queries of growing size ``n`` and evaluates each
in a CHILD process (the crash kills it, not us), on a helper thread as the server evaluates queries
(``kg_service.store.embedded``: a thread-pool thread; curator updates likewise), doubling ``n`` until the
child dies and then bisecting to the smallest crashing size. It does so once with the default thread
stack (glibc: the process's ``ulimit -s``, 8 MiB here) and once per ``--stack`` size given to
``threading.stack_size`` (does a larger stack raise the ceiling?).

    .venv/bin/python benchmarks/crash_sizes.py                      # every class, default stack
    .venv/bin/python benchmarks/crash_sizes.py --stack 64 --only not,and
    .venv/bin/python benchmarks/crash_sizes.py --json results.json

For each class it prints the smallest crashing ``n`` (">max" if none up to --max), the query's bytes
at that size, and the guard's complexity measure of the largest query that passed
(``kg_service.sparql.guard.complexity``), so the guard's limit can be compared with every ceiling.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

P = "PREFIX : <http://example.org/> "

# name -> (kind, builder of the text at size n); kind is "query" or "update"
CONSTRUCTS = {
    # expression operator chains (the grammar allows no chain of unary - or +: `- - 1` is a syntax
    # error, and `-(-(1))` is bracket nesting)
    "not":          ("query", lambda n: "ASK { FILTER(" + "!" * n + "true) }"),
    "and":          ("query", lambda n: "ASK { FILTER(" + " && ".join(["true"] * n) + ") }"),
    "or":           ("query", lambda n: "ASK { FILTER(" + " || ".join(["false"] * n) + ") }"),
    "plus":         ("query", lambda n: "ASK { FILTER(" + " + ".join(["1"] * n) + " > 0) }"),
    "minus":        ("query", lambda n: "ASK { FILTER(" + " - ".join(["1"] * n) + " < 0) }"),
    "times":        ("query", lambda n: "ASK { FILTER(" + " * ".join(["1"] * n) + " > 0) }"),
    "in-list":      ("query", lambda n: "ASK { FILTER(1 IN (" + ",".join(["2"] * n) + ")) }"),
    "concat-args":  ("query", lambda n: "ASK { FILTER(CONCAT(" + ",".join(['"a"'] * n) + ") != '') }"),
    "coalesce-args": ("query", lambda n: "ASK { FILTER(COALESCE(" + ",".join(["1"] * n) + ") > 0) }"),
    # group graph patterns
    "triples":      ("query", lambda n: P + "SELECT * { " + " ".join("?s%d :p ?o%d ." % (i, i) for i in range(n)) + " } LIMIT 1"),
    "triples-join": ("query", lambda n: P + "SELECT * { " + " ".join("?v%d :p ?v%d ." % (i, i + 1) for i in range(n)) + " } LIMIT 1"),
    "object-list":  ("query", lambda n: P + "ASK { :a :p " + ", ".join(":o%d" % i for i in range(n)) + " }"),
    "predicate-list": ("query", lambda n: P + "ASK { :a " + " ; ".join(":p%d :o" % i for i in range(n)) + " }"),
    "collection":   ("query", lambda n: P + "ASK { :a :p (" + " ".join("%d" % i for i in range(n)) + ") }"),
    "union":        ("query", lambda n: "ASK { " + " UNION ".join(["{}"] * n) + " }"),
    "optional":     ("query", lambda n: "ASK { " + "OPTIONAL {} " * n + "}"),
    "optional-triple": ("query", lambda n: P + "SELECT * { ?s :p ?o " + " ".join("OPTIONAL { ?s :q%d ?x%d }" % (i, i) for i in range(n)) + " } LIMIT 1"),
    "minus-group":  ("query", lambda n: "ASK { " + "MINUS {} " * n + "}"),
    "bind":         ("query", lambda n: "ASK { " + " ".join("BIND(%d AS ?b%d)" % (i, i) for i in range(n)) + " }"),
    "bind-chain":   ("query", lambda n: "SELECT * { BIND(0 AS ?b0) " + " ".join("BIND(?b%d AS ?b%d)" % (i, i + 1) for i in range(n)) + " }"),
    "graph":        ("query", lambda n: "ASK { " + "GRAPH ?g {} " * n + "}"),
    "filter":       ("query", lambda n: "ASK { " + "FILTER(true) " * n + "}"),
    "exists":       ("query", lambda n: "ASK { FILTER(" + " && ".join(["EXISTS {}"] * n) + ") }"),
    "values":       ("query", lambda n: "ASK { " + "VALUES ?v { 1 } " * n + "}"),
    "values-rows":  ("query", lambda n: "ASK { VALUES ?v { " + " ".join(str(i) for i in range(n)) + " } }"),
    "values-tuples": ("query", lambda n: "ASK { VALUES (?v ?w) { " + " ".join("(%d UNDEF)" % i for i in range(n)) + " } }"),
    "subselect":    ("query", lambda n: "ASK { " + "{ SELECT * {} } " * n + "}"),
    "service-free-groups": ("query", lambda n: "ASK { " + "{} " * n + "}"),
    "select-exprs": ("query", lambda n: "SELECT " + " ".join("(%d AS ?x%d)" % (i, i) for i in range(n)) + " {}"),
    "order-by":     ("query", lambda n: "SELECT * {} ORDER BY " + " ".join("?x%d" % i for i in range(n))),
    "group-by":     ("query", lambda n: "SELECT (COUNT(*) AS ?c) {} GROUP BY " + " ".join("?x%d" % i for i in range(n))),
    # property paths
    "path-seq":     ("query", lambda n: P + "ASK { ?s " + "/".join([":p"] * n) + " ?o }"),
    "path-alt":     ("query", lambda n: P + "ASK { ?s " + "|".join([":p"] * n) + " ?o }"),
    "path-inverse": ("query", lambda n: P + "ASK { ?s " + "/".join(["^:p"] * n) + " ?o }"),
    "path-mod":     ("query", lambda n: P + "ASK { ?s " + "(" * n + ":p" + ")*" * n + " ?o }"),
    # nesting (brackets: already bounded by the guard's depth limit)
    "nested-parens": ("query", lambda n: "ASK { FILTER(" + "(" * n + "true" + ")" * n + ") }"),
    "nested-braces": ("query", lambda n: "ASK " + "{" * n + "}" * n),
    "nested-bnodes": ("query", lambda n: P + "ASK { ?s :p " + "[ :p " * n + ":o" + " ]" * n + " }"),
    "nested-collections": ("query", lambda n: P + "ASK { ?s :p " + "( " * n + "1" + " )" * n + " }"),
    # SPARQL Update (the curator route)
    "update-ops":   ("update", lambda n: P + " ; ".join(["INSERT DATA { GRAPH :g { :a :p :o } }"] * n)),
    "update-data":  ("update", lambda n: P + "INSERT DATA { GRAPH :g { " + " ".join(":a :p %d ." % i for i in range(n)) + " } }"),
    "update-data-collection": ("update", lambda n: P + "INSERT DATA { GRAPH :g { :a :p (" + " ".join(str(i) for i in range(n)) + ") } }"),
    "update-delete-where": ("update", lambda n: P + "DELETE WHERE { " + " ".join("?s%d :p ?o%d ." % (i, i) for i in range(n)) + " }"),
    "update-where-optional": ("update", lambda n: P + "INSERT { GRAPH :g { :a :p ?o } } WHERE { " + "OPTIONAL {} " * n + "}"),
    "update-where-not": ("update", lambda n: P + "INSERT { GRAPH :g { :a :p :o } } WHERE { FILTER(" + "!" * n + "true) }"),
    "update-where-and": ("update", lambda n: P + "INSERT { GRAPH :g { :a :p :o } } WHERE { FILTER(" + " && ".join(["true"] * n) + ") }"),
}

CHILD = r"""
import sys, threading
import pyoxigraph as ox
kind, stack = sys.argv[1], int(sys.argv[2])
text = sys.stdin.read()
if stack:
    threading.stack_size(stack)
store = ox.Store()
ex = "http://example.org/"
store.add(ox.Quad(ox.NamedNode(ex + "a"), ox.NamedNode(ex + "p"), ox.NamedNode(ex + "o")))
out = {}
def run():
    try:
        if kind == "update":
            store.update(text)
        else:
            res = store.query(text, use_default_graph_as_union=True)
            if not isinstance(res, ox.QueryBoolean):
                for _ in res:
                    pass
        out["status"] = "ok"
    except BaseException as e:  # a syntax or evaluation error is an answer, not a crash
        out["status"] = "error: " + type(e).__name__ + ": " + str(e)[:120]
t = threading.Thread(target=run)
t.start()
t.join()
print(out.get("status", "no status"))
"""


def probe(kind: str, text: str, stack: int, timeout: float) -> str:
    """'ok', 'error: …' (a raised error: the process lives), 'crash: <signal>' or 'slow'."""
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(stack)], input=text.encode("utf-8"),
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "slow"
    if proc.returncode < 0:
        return "crash: signal %d" % -proc.returncode
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        if "overflow" in proc.stderr.decode("utf-8", "replace"):
            return "crash: stack overflow (exit %d)" % proc.returncode
        return "crash: exit %d %s" % (proc.returncode, tail[0][:80])
    return proc.stdout.decode().strip() or "no output"


def ceiling(name: str, stack: int, max_n: int, timeout: float, start: int = 16) -> dict:
    """The smallest crashing size of one construct (doubling, then bisection)."""
    kind, build = CONSTRUCTS[name]
    first = probe(kind, build(1), stack, timeout)
    if first != "ok":
        return {"construct": name, "error": "size 1 does not run: %s" % first}
    ok, bad, status, n = 1, None, None, start
    while n <= max_n:
        status = probe(kind, build(n), stack, timeout)
        if status.startswith("crash"):
            bad = n
            break
        if status != "ok":  # slow, or an error (e.g. a limit of the parser): stop growing
            break
        ok, n = n, n * 2
    result = {"construct": name, "kind": kind, "stack": stack or "default", "largest_ok": ok}
    if bad is None:
        result["crash_at"] = None
        result["stopped_by"] = status if status and status != "ok" else "max %d" % max_n
    else:
        crash_status = status
        while bad - ok > max(1, ok // 50):  # 2 % precision is plenty for choosing a limit
            mid = (ok + bad) // 2
            s = probe(kind, build(mid), stack, timeout)
            if s.startswith("crash"):
                bad, crash_status = mid, s
            elif s == "ok":
                ok = mid
            else:
                break
        result.update(crash_at=bad, crash_bytes=len(build(bad).encode()), how=crash_status, largest_ok=ok)
    try:
        from kg_service.sparql.guard import complexity
        result["guard_measure_at_largest_ok"] = complexity(build(ok))
    except ImportError:
        pass
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated construct names (default: all)")
    ap.add_argument("--stack", type=int, action="append", default=[],
                    help="also measure with threading.stack_size(MiB) (repeatable)")
    ap.add_argument("--max", type=int, default=262144, help="largest size tried (default 262144)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per probe before it counts as slow")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--list", action="store_true", help="list the construct names and exit")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(CONSTRUCTS))
        return 0
    names = args.only.split(",") if args.only else list(CONSTRUCTS)
    stacks = [0] + [mib * 1024 * 1024 for mib in args.stack]
    results = []
    print("%-22s %-8s %10s %10s %12s  %s" % ("construct", "stack", "crash at", "bytes", "guard@ok", "how"))
    for name in names:
        for stack in stacks:
            t0 = time.monotonic()
            r = ceiling(name, stack, args.max, args.timeout)
            r["seconds"] = round(time.monotonic() - t0, 1)
            results.append(r)
            print("%-22s %-8s %10s %10s %12s  %s" % (
                name, "%dM" % (stack >> 20) if stack else "default",
                r.get("crash_at") or ">%d" % r.get("largest_ok", 0), r.get("crash_bytes", "-"),
                r.get("guard_measure_at_largest_ok", "-"), r.get("how") or r.get("stopped_by") or r.get("error")),
                flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"pyoxigraph": _version(), "ulimit_stack": _ulimit(),
                                               "results": results}, indent=1))
    return 0


def _version() -> str:
    import pyoxigraph
    return pyoxigraph.__version__


def _ulimit() -> str:
    import resource
    soft, _hard = resource.getrlimit(resource.RLIMIT_STACK)
    return "unlimited" if soft == resource.RLIM_INFINITY else str(soft)


if __name__ == "__main__":
    os.nice(5)
    sys.exit(main())
