"""The evaluation set of plain-language questions (`cases.yaml`): loading it and scoring one case.

A case is scored twice: its profile (what `parse_question` read, compared exactly with the case's
`profile`; disease AML, the default, is ignored on both sides) and its options (the `/api/ask` answer
must list every `include` item, and no `exclude` item unless marked outside a soft bound). The test runs
the cases over HTTP, `measure.py` in-process.
"""
from __future__ import annotations

from pathlib import Path

import yaml

CASES = Path(__file__).with_name("cases.yaml")


def load() -> tuple[list[dict], dict]:
    """The cases, each with its option groups merged into `include`/`exclude`, and the groups."""
    data = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    groups = data["groups"]
    cases = []
    for case in data["cases"]:
        include, exclude = list(case.get("include", [])), list(case.get("exclude", []))
        for name in case.get("expect", []):
            include += groups[name].get("include", [])
            exclude += groups[name].get("exclude", [])
        cases.append({**case, "include": include, "exclude": [e for e in exclude if e not in include]})
    return cases, groups


def comparable(profile: dict) -> dict:
    """A profile as compared: disease AML (the default) dropped, lists of codes as sets."""
    out = {}
    for k, v in profile.items():
        if k == "disease" and v == "AML":
            continue
        out[k] = sorted(v) if isinstance(v, list) else v
    return out


def profile_errors(case: dict, parsed) -> list[str]:
    """How the parsed question differs from the case's profile (empty: right)."""
    errors = []
    got, want = comparable(parsed.profile), comparable(case.get("profile", {}))
    for k in sorted(set(got) | set(want)):
        if got.get(k) != want.get(k):
            errors.append("%s: read %r, expected %r" % (k, got.get(k), want.get(k)))
    statuses = getattr(parsed, "statuses", None) or []
    if sorted(statuses) != sorted(case.get("statuses", [])):
        errors.append("statuses: read %r, expected %r" % (statuses, case.get("statuses", [])))
    unread = set(case.get("unrecognized", [])) - {w.lower() for w in parsed.unrecognized}
    if unread:
        errors.append("not listed as unrecognized: %s" % ", ".join(sorted(unread)))
    return errors


def option_keys(answer: dict, *, applying: bool = False) -> set[str]:
    """What an answer's options can be matched on: therapy labels and rec:<id> of recommendations.
    `applying`: only options not marked outside a soft bound of the document ("generally", "about")."""
    keys = set()
    for o in answer.get("options", []):
        if applying and o.get("match") == "outside":
            continue
        keys.add(o["therapy"]["label"])
        keys.add("rec:" + o["recommendation"].rsplit("/", 1)[-1].removeprefix("acs2022-"))
    return keys


def option_errors(case: dict, answer: dict) -> list[str]:
    """What the answer lacks of `include` or has of `exclude` (empty: right). An option kept but marked
    outside a soft bound (the issue: never silently dropped) counts as listed, not as applying."""
    if "options" not in answer:
        return ["no options: %s %s" % (answer.get("status"), answer.get("detail"))]
    listed, applying = option_keys(answer), option_keys(answer, applying=True)
    errors = ["missing %s" % i for i in case["include"] if i not in listed]
    errors += ["unexpected %s" % e for e in case["exclude"] if e in applying]
    return errors
