"""Profile and option accuracy of the evaluation set, in-process (no server):

    python -m tests.eval.measure [--store PATH] [--negation negex|rules] [--failures]

Prints the share of cases whose profile is read exactly and whose answer has every expected option
and none of the excluded ones, overall and per tag.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict

from .evaluate import load, option_errors, profile_errors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", help="a built store (default: build one in a temporary folder)")
    ap.add_argument("--negation", choices=("negex", "rules"), help="the negation reader to measure")
    ap.add_argument("--failures", action="store_true", help="list the failing cases")
    args = ap.parse_args(argv)
    if args.negation:
        os.environ["KG_QUESTION_NEGATION"] = args.negation
    store = args.store
    if store is None:
        from loaders.build import build
        tmp = tempfile.mkdtemp()
        store = os.path.join(tmp, "store")
        build(store, release_dir=os.path.join(tmp, "release"), log=lambda *a: None)
    from kg_service import create_app
    from kg_service.api.views import answer_question
    from kg_service.errors import ProblemError
    from kg_service.question import current_lexicon, parse_question
    app = create_app({"TESTING": True, "KG_STORE": store})
    cases, _groups = load()
    totals = defaultdict(lambda: [0, 0, 0, 0])   # tag -> [profiles right, cases, options right, with options]
    failures = []
    with app.app_context():
        lexicon = current_lexicon()
        for case in cases:
            parsed = parse_question(case["q"], lexicon)
            p_err = profile_errors(case, parsed)
            o_err = []
            if case["include"] or case["exclude"]:
                try:
                    answer = answer_question(case["q"])
                except ProblemError as e:
                    answer = {"status": e.status, "detail": e.detail}
                except Exception as e:   # a fault of the finder is a wrong answer, counted as such
                    answer = {"status": 500, "detail": repr(e)}
                o_err = option_errors(case, answer)
            for tag in ["all"] + case.get("tags", []):
                t = totals[tag]
                t[0] += not p_err
                t[1] += 1
                if case["include"] or case["exclude"]:
                    t[2] += not o_err
                    t[3] += 1
            if p_err or o_err:
                failures.append((case["q"], p_err, o_err))
    for tag, (pr, n, orr, no) in sorted(totals.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        print("%-16s profiles %3d/%3d (%5.1f%%)   options %3d/%3d (%5.1f%%)" % (
            tag, pr, n, 100 * pr / n, orr, no, 100 * orr / no if no else 100))
    if args.failures:
        for q, p_err, o_err in failures:
            print("\n%s\n  profile: %s\n  options: %s" % (q, "; ".join(p_err) or "ok", "; ".join(o_err) or "ok"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
