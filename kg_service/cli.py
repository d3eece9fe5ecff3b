"""Command line: build, serve, query, options, annotate (see CONTRACT: `python -m kg_service …`)."""
from __future__ import annotations

import argparse
import json
import os
import sys

DEFAULT_STORE = os.environ.get("KG_STORE", "var/store")


def _build(args) -> int:
    from loaders.build import BuildError, build
    try:
        build(args.store, release_dir=args.release_dir, log=print)
    except BuildError as e:
        print("build failed: %s" % e, file=sys.stderr)
        return 1
    return 0


def _serve(args) -> int:
    from .store import StoreError, open_store
    try:
        open_store(args.store, read_only=True).close()
    except StoreError:
        if args.store.startswith(("http://", "https://")):
            raise
        print("no store at %s: building it first" % args.store, file=sys.stderr)
        if _build(args) != 0:
            return 1
    from .server import serve
    serve(args.host, args.port, workers=args.workers, store=args.store)
    return 0


def _query(args) -> int:
    from .store import open_store, QuerySyntaxError, StoreError
    from .formatting import format_rows
    text = args.expression if args.expression is not None else open(args.file, encoding="utf-8").read()
    try:
        with open_store(args.store, read_only=True) as store:
            rows = store.select(text)
    except (QuerySyntaxError, StoreError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    sys.stdout.write(format_rows(rows, args.format))
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

    q = sub.add_parser("query", help="run a SELECT against the built store")
    q.add_argument("file", nargs="?", help="a .rq file")
    q.add_argument("-e", "--expression", help="query text instead of a file")
    q.add_argument("--format", choices=["json", "csv", "tsv", "table"], default="table")
    q.add_argument("--store", default=DEFAULT_STORE)
    q.set_defaults(func=_query)

    try:
        from .api.cli import add_commands
    except ModuleNotFoundError:
        add_commands = None
    if add_commands:
        add_commands(sub, DEFAULT_STORE)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "query" and args.file is None and args.expression is None:
        parser.error("query needs FILE.rq or -e 'SELECT …'")
    return args.func(args)
