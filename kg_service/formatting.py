"""Rows of rdflib terms as JSON, CSV, TSV or an aligned text table (for the command line)."""
from __future__ import annotations

import csv
import io
import json


def _plain(term) -> str:
    return "" if term is None else str(term)


def format_rows(rows: list[dict], fmt: str) -> str:
    """Format SELECT rows.

    >>> from rdflib import Literal, URIRef
    >>> print(format_rows([{"d": URIRef("urn:x"), "n": Literal(2)}], "csv"), end="")
    d,n
    urn:x,2
    """
    names = []
    for row in rows:
        for k in row:
            if k not in names:
                names.append(k)
    if fmt == "json":
        return json.dumps([{k: _plain(r.get(k)) for k in names} for r in rows], indent=2,
                          ensure_ascii=False) + "\n"
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        w = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        w.writerow(names)
        for r in rows:
            w.writerow([_plain(r.get(k)) for k in names])
        return out.getvalue()
    widths = {k: max([len(k)] + [len(_plain(r.get(k))) for r in rows]) for k in names}
    lines = [" | ".join(k.ljust(widths[k]) for k in names),
             "-+-".join("-" * widths[k] for k in names)]
    lines += [" | ".join(_plain(r.get(k)).ljust(widths[k]) for k in names) for r in rows]
    return "\n".join(lines) + "\n"
