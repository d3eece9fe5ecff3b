"""The options finder on the command line, with the JSON API's answers: `options` (the same fields as
/api/options), `ask` (a plain-language question) and `annotate` (a cohort file, one patient per row)."""
from __future__ import annotations

import argparse
import sys

import orjson

from .options import CHOICES


def add_commands(sub, default_store: str | None) -> None:
    """Add the API's subcommands to the main parser's subparsers."""
    o = sub.add_parser("options", help="the options finder for one profile (prints JSON)",
                       description="The options finder for one patient profile; the same fields as /api/options. "
                                   "Prints the JSON answer; exits 2 with the errors on bad input.")
    o.add_argument("--status", help="refractory or relapsed (required)")
    o.add_argument("--disease", help="AML (default) or APL")
    o.add_argument("--mutations", help="the mutations found, comma-separated: gene symbols (FLT3, IDH1, IDH2) or "
                                       "variant names (FLT3-ITD, 'IDH2 R172K'); none = tested, none found")
    o.add_argument("--absent-mutations", dest="absent_mutations", help="genes tested negative, comma-separated")
    o.add_argument("--remission-months", dest="remission_months",
                   help="how long the remission lasted: a number, a bound (<12, >=24), a range (6-12) or ~N")
    o.add_argument("--age", help="years: a number, a bound (>60) or a range (70-79)")
    o.add_argument("--prior-therapy", dest="prior_therapy", help=" or ".join(CHOICES["prior_therapy"]))
    o.add_argument("--site", help="marrow (default) or cns")
    o.add_argument("--symptoms", help="comma list of " + ", ".join(CHOICES["symptoms"]))
    for flag, text in (("fit", "healthy enough for intensive treatment"), ("donor", "a suitable donor was found"),
                       ("prior-transplant", "has had a stem cell transplant"),
                       ("keeps-coming-back", "the leukemia keeps coming back or doesn't go away")):
        o.add_argument("--" + flag, dest=flag.replace("-", "_"), action=argparse.BooleanOptionalAction, default=None,
                       help="%s (--no-%s: not; leave out when not known)" % (text, flag))
    o.add_argument("--store", default=default_store, help="store directory or SPARQL endpoint URL")
    o.set_defaults(func=_options)

    a = sub.add_parser("ask", help="answer a plain-language question (prints JSON)")
    a.add_argument("question", help="e.g. 'options for IDH1+ relapse'")
    a.add_argument("--store", default=default_store)
    a.set_defaults(func=_ask)

    n = sub.add_parser("annotate", help="add the options to every row of a cohort CSV",
                       description="Annotate a cohort file: one patient per row, columns named after the profile "
                                   "fields (status required; lists separated by ';' or ','). Adds the columns "
                                   "options, strongest_option, strongest_strength, strongest_quote, advised_against, "
                                   "sections, warnings and error. Bad rows are reported on stderr with their line "
                                   "number and do not stop the others.")
    n.add_argument("input", help="CSV file ('-' for stdin)")
    n.add_argument("-o", "--output", default="-", help="output CSV ('-' for stdout, the default)")
    n.add_argument("--delimiter", default=None, help="field separator (default: tab for .tsv, else comma)")
    n.add_argument("--progress", choices=["auto", "always", "never"], default="auto",
                   help="progress bar on stderr (auto: for files over 10,000 rows)")
    n.add_argument("--store", default=default_store)
    n.set_defaults(func=_annotate)


def _open(store_location: str):
    from .named_queries import load_all
    from .options import OptionsFinder
    from .store import open_store
    store = open_store(store_location, read_only=True)
    queries = load_all()
    return store, queries, OptionsFinder(lambda: store, queries)


def _options(args) -> int:
    from .options import PROFILE_FIELDS, ProfileError, parse_profile
    from .store import StoreError
    raw = {f: getattr(args, f) for f in PROFILE_FIELDS if getattr(args, f, None) is not None}
    try:
        profile = parse_profile(raw)
    except ProfileError as e:
        sys.stderr.write(orjson.dumps({"errors": e.errors}, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 2
    try:
        store, _queries, finder = _open(args.store)
        answer = finder.find(profile)
    except StoreError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _ask(args) -> int:
    from .options import ProfileError, merge_answers, parse_profile
    from .question import lexicon_for, parse_question
    from .store import StoreError
    try:
        store, queries, finder = _open(args.store)
        parsed = parse_question(args.question, lexicon_for(store, queries))
    except StoreError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    understood = {"question": args.question, "profile": parsed.profile, "understood": parsed.understood,
                  "mentions": parsed.mentions, "unrecognized": parsed.unrecognized, "warnings": parsed.warnings}
    if ("status" not in parsed.profile and not parsed.statuses) or "status" in parsed.conflicts:
        understood["error"] = "could not tell whether the leukemia is relapsed or refractory"
        sys.stderr.write(orjson.dumps(understood, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 2
    try:
        profiles = [parse_profile(raw) for raw in parsed.profiles]  # one per status named as alternatives
    except ProfileError as e:
        understood["errors"] = e.errors
        sys.stderr.write(orjson.dumps(understood, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 2
    answer = merge_answers([finder.find(p) for p in profiles])
    understood.update(profile=answer["profile"], options=answer["options"],
                      warnings=parsed.warnings + answer["warnings"], disclaimer=answer["disclaimer"])
    sys.stdout.write(orjson.dumps(understood, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _annotate(args) -> int:
    from .store import StoreError
    from .annotate import Annotator, annotate, count_rows, text_progress
    delimiter = args.delimiter or ("\t" if args.input.lower().endswith(".tsv") else ",")
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if len(delimiter) != 1:
        print("error: --delimiter must be one character", file=sys.stderr)
        return 2
    try:
        store, queries, finder = _open(args.store)
        bounds = finder.snapshot(store).bounds  # the thresholds, read with the rest of the snapshot
    except StoreError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    total = count_rows(args.input) if args.input != "-" else None
    show = args.progress == "always" or (args.progress == "auto" and (total or 0) > 10_000)
    progress = text_progress(sys.stderr) if show else None

    def on_error(line: int, text: str) -> None:
        sys.stderr.write("%sline %d: %s\n" % ("\n" if show else "", line, text))

    try:
        src = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8-sig", newline="")
    except OSError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    try:
        dst = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8", newline="")
    except OSError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    try:
        stats = annotate(src, dst, Annotator(finder, store, queries, bounds), delimiter=delimiter,
                         total=total, on_error=on_error, progress=progress)
    except (ValueError, UnicodeDecodeError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except StoreError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    finally:
        if src is not sys.stdin:
            src.close()
        if dst is not sys.stdout:
            dst.close()
    print("annotated %s rows (%s with errors, %s distinct situations) in %.2f s, %s rows/s" % (
        format(stats.rows, ","), format(stats.errors, ","), format(stats.distinct, ","), stats.seconds,
        format(int(stats.rows / stats.seconds) if stats.seconds else 0, ",")), file=sys.stderr)
    return 0


