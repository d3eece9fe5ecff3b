"""Command line: build, serve, query, options, annotate (see CONTRACT: `python -m kg_service …`)."""
from __future__ import annotations

import argparse
import os
import sys

#: `--store` left out: the app's KG_STORE, read in `main` through kg_service.config (defaults, config
#: file, environment) when the command runs, not when this module is imported
DEFAULT_STORE = None


def _build(args) -> int:
    from loaders.build import BuildError, build
    try:
        build(args.store, release_dir=args.release_dir, log=print)
    except BuildError as e:
        print("build failed: %s" % e, file=sys.stderr)
        return 1
    return 0


def _serve(args) -> int:
    """Check the store (build it when missing and KG_BUILD_IF_MISSING), then serve until stopped.

    Every refusal is one line on stderr and exit status 2, so a service manager shows why."""
    from . import config
    settings = config.read({"KG_STORE": args.store})
    if args.store.startswith(("http://", "https://")):
        code = _probe_remote(args.store, config.store_environ(settings))
        if code:
            return code
    else:
        code = _check_or_build(args, settings)
        if code:
            return code
    # one key for the request log's query hashes, shared by every worker of this server
    if not settings.get("KG_LOG_HASH_KEY"):
        import secrets
        os.environ["KG_LOG_HASH_KEY"] = secrets.token_hex(32)
    from .banner import announce_when_ready, route_request_log
    log_to = route_request_log(args.store)
    if sys.stdout.isatty():  # the person's "it is up"; never mixed into a machine's stream (a pipe, a log file)
        announce_when_ready(args.host, args.port, log_to)
    from .server import serve
    serve(args.host, args.port, workers=args.workers, store=args.store)
    return 0


def _check_or_build(args, settings) -> int:
    """0 when the embedded store at args.store is whole (built first when missing or, if configured,
    corrupt); else an exit status after a one-line message.

    The check and the build run in child processes: RocksDB starts background threads the first time
    a store is opened, and server workers forked from a process holding them would hang on their
    first write (a curator write's flush)."""
    from . import config
    code, message = _run_check(args.store)
    if code == 0:
        return 0
    if code == CHECK_MISSING:
        if not config.flag(settings.get("KG_BUILD_IF_MISSING")):
            print("error: %s (KG_BUILD_IF_MISSING is off)" % message, file=sys.stderr)
            return 2
        print("no store at %s: building it first" % args.store, file=sys.stderr)
    elif code == CHECK_CORRUPT:
        if not config.flag(settings.get("KG_REBUILD_IF_CORRUPT")):
            print("error: %s" % message, file=sys.stderr)
            return 2
        print("warning: %s; KG_REBUILD_IF_CORRUPT is on: rebuilding" % message, file=sys.stderr)
    else:
        print("error: the store check failed: %s" % message, file=sys.stderr)
        return 2
    import subprocess
    built = subprocess.run([sys.executable, "-m", "kg_service", "build", "--store", args.store,
                            "--release-dir", args.release_dir])
    if built.returncode != 0:
        return 1
    code, message = _run_check(args.store)
    if code != 0:
        print("error: the build finished but %s" % message, file=sys.stderr)
        return 2
    return 0


CHECK_MISSING, CHECK_CORRUPT = 3, 4


def _run_check(store: str) -> tuple[int, str]:
    """(exit status, message) of `python -m kg_service check-store` on `store`, in a child process."""
    import subprocess
    r = subprocess.run([sys.executable, "-m", "kg_service", "check-store", "--store", store],
                       capture_output=True, text=True)
    lines = (r.stderr or r.stdout or "").strip().splitlines()
    return r.returncode, (lines[-1] if lines else "exit status %d" % r.returncode)


def _check_store(args) -> int:
    """Is the embedded store whole? 0, else one line on stderr and 3 (missing) or 4 (corrupt)."""
    from .store.integrity import StoreCorrupt, StoreMissing, check_store, one_line
    try:
        state = check_store(args.store)
    except StoreMissing as e:
        print(one_line(str(e)), file=sys.stderr)
        return CHECK_MISSING
    except StoreCorrupt as e:
        print(one_line(str(e), 600), file=sys.stderr)
        return CHECK_CORRUPT
    print("ok: %s, version %s, %d quads%s" % (state.version_dir, state.graph_version[:12], state.triples,
                                              "" if state.manifest else " (no checksum manifest: opened only)"))
    return 0


def _probe_remote(url: str, environ: dict[str, str]) -> int:
    """0 when the remote store holds our build, or is down at start, which is not fatal (the service
    answers 503 until it is back: said on one line); 2 after one line when it answers without our
    graphs (serving it would answer every question with nothing). `environ`: the store's settings as
    the workers will have them (`config.store_environ`)."""
    import logging

    from .store import DatasetMissing, StoreError, open_store
    from .store.integrity import one_line
    quiet = logging.getLogger("kg_service.store")  # its retry warnings would repeat the line below
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with open_store(url, read_only=True, timeout=5.0, environ=environ) as store:
            store.check_dataset()
    except DatasetMissing as e:
        print("error: %s" % one_line(str(e), 600), file=sys.stderr)
        return 2
    except StoreError as e:
        print("warning: the store at %s does not answer (%s): serving 503 until it does"
              % (url, one_line(str(e))), file=sys.stderr)
    finally:
        quiet.setLevel(level)
    return 0


def _query(args) -> int:
    from .store import open_store, StoreError
    from .formatting import format_rows
    text = args.expression if args.expression is not None else open(args.file, encoding="utf-8").read()
    try:
        with open_store(args.store, read_only=True) as store:
            rows = store.select(text)
    except StoreError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    sys.stdout.write(format_rows(rows, args.format))
    return 0


def _source_diff(args) -> int:
    """Re-anchor every recommendation's quote in a new revision of the document (CONTRACT: exit 0 when
    all stand word for word, 1 when any changed or is missing, 2 on bad input, with one line)."""
    import orjson
    from . import source_diff
    from .named_queries import QUERIES_DIR, load_query
    from .store import StoreError, open_store
    try:
        text = source_diff.read_revision(args.file)
    except source_diff.BadRevision as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    try:
        with open_store(args.store, read_only=True) as store:
            rows = store.select(load_query(QUERIES_DIR / "quote-anchors.rq").text)
            terms = [(str(r["term"]), str(r["kind"]))
                     for r in store.select(load_query(QUERIES_DIR / "treatment-wordings.rq").text)]
    except StoreError as e:
        from .store.integrity import one_line
        print("error: %s" % one_line(str(e)), file=sys.stderr)
        return 2
    if not rows:
        print("error: the store at %s holds no recommendation quotes to re-anchor" % args.store, file=sys.stderr)
        return 2
    anchors = [source_diff.Anchor(str(r["recommendation"]), str(r["exact"]), str(r.get("prefix", "")),
                                  str(r.get("suffix", "")), int(r.get("start", -1)), int(r.get("end", -1)))
               for r in rows]
    # the revision the graph was built from, when its file is at hand and unchanged: its sentences
    # (those the curators chose not to model) are not reported as uncovered
    from .ui.source_text import load_text
    files = {(str(r["sourceFile"]), str(r["sha256"])) for r in rows if "sourceFile" in r and "sha256" in r}
    previous = "\n\n".join(filter(None, (load_text(name, sha) for name, sha in sorted(files)))) or None
    report = source_diff.diff(anchors, text, terms, previous)
    if args.format == "table":
        sys.stdout.write(source_diff.format_table(report))
    else:
        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return report.exit_status


def _changes(args) -> int:
    """Release notes between two builds (stores, kept store versions, release directories or dumps)."""
    import orjson
    from . import release_notes
    try:
        old, new = release_notes.open_build(args.old), release_notes.open_build(args.new)
    except release_notes.BuildNotFound as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    notes = release_notes.compare(old, new)
    if args.format == "json":
        sys.stdout.write(orjson.dumps(notes, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(release_notes.markdown(notes))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kg_service", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="(re)build the graph from ontology/ and loaders/ sources")
    b.add_argument("--store", default=DEFAULT_STORE, help="store directory or SPARQL endpoint URL")
    b.add_argument("--release-dir", default="var/release", help="where release dumps are written")
    b.set_defaults(func=_build)

    s = sub.add_parser("serve", help="serve the SPARQL endpoint, JSON API and pages")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--store", default=DEFAULT_STORE)
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--release-dir", default="var/release")
    s.set_defaults(func=_serve)

    c = sub.add_parser("check-store", help="check the embedded store's files against their checksums")
    c.add_argument("--store", default=DEFAULT_STORE)
    c.set_defaults(func=_check_store)

    q = sub.add_parser("query", help="run a SELECT against the built store")
    q.add_argument("file", nargs="?", help="a .rq file")
    q.add_argument("-e", "--expression", help="query text instead of a file")
    q.add_argument("--format", choices=["json", "csv", "tsv", "table"], default="table")
    q.add_argument("--store", default=DEFAULT_STORE)
    q.set_defaults(func=_query)

    d = sub.add_parser("source-diff", help="re-anchor every recommendation's quote in a new revision of the document",
                       description="Re-anchor every recommendation's quote (its W3C Web Annotation selectors in the "
                                   "store) in NEW.txt: unchanged, moved, changed (with the word-level diff) or missing, "
                                   "and the uncovered sentences that state a treatment no recommendation quotes. "
                                   "Exit 0 if all are unchanged or moved, 1 if any changed or is missing, 2 on bad input.")
    d.add_argument("file", metavar="NEW.txt", help="the new revision of the document, as UTF-8 text")
    d.add_argument("--store", default=DEFAULT_STORE)
    d.add_argument("--format", choices=["json", "table"], default="json")
    d.set_defaults(func=_source_diff)

    r = sub.add_parser("changes", help="release notes: what changed between two builds",
                       description="Compare two builds: recommendations added, removed and changed, source files "
                                   "and revisions, triples added and removed per named graph. A build is a store "
                                   "directory, STORE@VERSION (a version the store keeps, by a prefix of its graph "
                                   "version), a release directory (amlkg.nq) or an N-Quads dump.")
    r.add_argument("old", metavar="A")
    r.add_argument("new", metavar="B")
    r.add_argument("--format", choices=["markdown", "json"], default="markdown")
    r.set_defaults(func=_changes)

    from .finder_cli import add_commands
    add_commands(sub, DEFAULT_STORE)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "store", "") is None:
        from . import config
        args.store = str(config.read()["KG_STORE"])
    if args.command == "query" and args.file is None and args.expression is None:
        parser.error("query needs FILE.rq or -e 'SELECT …'")
    return args.func(args)
