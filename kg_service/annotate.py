"""The batch annotator: a cohort file (one patient per row, columns = profile fields) in, the same rows
with the document's options added out (like OncoKB's annotator for clinical files).

Output columns added after the input's own (see `ADDED_COLUMNS`):

    options             therapy labels of the options, strongest first, joined by "; "
    strongest_option    the first of them (the strongest)            strongest_strength  its strength
    strongest_quote     the sentence of the document it comes from (the others: /api/options)
    advised_against     therapies the document says are not likely helpful for the profile (column name kept)
    sections            the document sections the options' quotes come from, joined by "; "
    warnings            the finder's warnings (e.g. a gene the graph does not know)
    error               why the row could not be annotated (the other columns are then empty)

A list cell (mutations, symptoms) separates values with ";" or ","; `none` says "tested, none found".
Answers are kept per profile, and ages and remission lengths that fall on the same side of every
threshold the graph's conditions use share one answer; the finder assembles a new situation from
condition rows already read for each factor's values, so a large cohort costs a few dozen queries.
"""
from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from typing import IO, Callable

from .api.graphdata import NUMERIC_FIELDS
from .options import side_of_bounds
from .options import PROFILE_FIELDS, ProfileError, parse_profile

ADDED_COLUMNS = ("options", "strongest_option", "strongest_strength", "strongest_quote", "advised_against",
                 "sections", "warnings", "error")
LIST_FIELDS = ("mutations", "absent_mutations", "symptoms")
NOT_HELPFUL = "not likely helpful"
PROGRESS_EVERY = 5_000


def column_field(header: str) -> str | None:
    """The profile field a column header names ("Remission months" -> remission_months), or None.

    >>> column_field(" Remission-Months "), column_field("prior therapy"), column_field("patient_id")
    ('remission_months', 'prior_therapy', None)
    """
    name = "_".join(header.strip().lower().replace("-", " ").split())
    return name if name in PROFILE_FIELDS else None


def row_profile(cells: dict[str, str]) -> dict:
    """The raw profile of one row's profile cells (empty cells = not given)."""
    raw = {}
    for f, value in cells.items():
        value = (value or "").strip()
        if not value:
            continue
        if f in LIST_FIELDS:
            value = "" if value.lower() in ("none", "-") else value.replace(";", ",")
        raw[f] = value
    return raw


@dataclass
class Stats:
    rows: int = 0
    errors: int = 0
    distinct: int = 0
    seconds: float = 0.0


class Annotator:
    """Annotates rows with the options finder's answers, remembered per situation.

    Profiles whose numbers fall on the same side of every threshold share one row of added columns;
    the finder itself reuses condition rows per factor (`OptionsFinder.condition_rows`).
    """

    def __init__(self, finder, store, queries, bounds: dict[str, list]):
        self.finder, self.store, self.queries, self.bounds = finder, store, queries, bounds
        self._parsed: dict[tuple, tuple] = {}
        self._answers: dict[tuple, dict] = {}

    def situation(self, profile: dict) -> tuple:
        """The key under which profiles share an answer (numbers by their side of each threshold)."""
        key = []
        for f in PROFILE_FIELDS:
            v = profile.get(f)
            if f in NUMERIC_FIELDS and not isinstance(v, str):
                key.append(side_of_bounds(v, self.bounds.get(f, [])))
            elif isinstance(v, list):
                key.append(tuple(sorted(v)))
            else:
                key.append(v)
        # what was defaulted or inferred is said in the answer, so it is part of the situation
        return tuple(key) + (tuple(getattr(profile, "defaults", ())), tuple(getattr(profile, "notes", ())))

    def parse(self, raw_cells: tuple) -> tuple:
        """(situation key, profile, None) or (None, None, error text) for one row's profile cells."""
        hit = self._parsed.get(raw_cells)
        if hit is None:
            try:
                profile = parse_profile(row_profile(dict(raw_cells)))
                hit = (self.situation(profile), profile, None)
            except ProfileError as e:
                hit = (None, None, "; ".join("%s: %s" % kv for kv in e.errors.items()))
            self._parsed[raw_cells] = hit
        return hit

    def find(self, profile: dict) -> dict:
        """The finder's answer (it reuses per-factor condition rows, so a new situation costs no query
        once its parts are known)."""
        return self.finder.find(profile)

    @property
    def queries_run(self) -> int:
        """How many options.rq parts the finder has read for this graph version."""
        return len(self.finder.snapshot(self.store).parts)

    def columns(self, answer: dict) -> dict:
        opts = [o for o in answer["options"] if o["strength"] != NOT_HELPFUL]
        against = [o for o in answer["options"] if o["strength"] == NOT_HELPFUL]
        return {
            "options": "; ".join(_unique(o["therapy"]["label"] for o in opts)),
            "strongest_option": opts[0]["therapy"]["label"] if opts else "",
            "strongest_strength": opts[0]["strength"] if opts else "",
            "strongest_quote": opts[0]["source"]["quote"] if opts else "",
            "advised_against": "; ".join(_unique(o["therapy"]["label"] for o in against)),
            "sections": "; ".join(_unique(o["source"]["section"] for o in answer["options"])),
            "warnings": "; ".join(answer["warnings"]),
            "error": "",
        }

    def answer(self, key: tuple, profile: dict) -> dict:
        """The added columns for a situation (computed the first time it is seen)."""
        columns = self._answers.get(key)
        if columns is None:
            columns = self._answers[key] = self.columns(self.find(profile))
        return columns

    @property
    def distinct(self) -> int:
        return len(self._answers)


def _unique(values) -> list:
    seen, out = set(), []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def annotate(reader_fh: IO[str], writer_fh: IO[str], annotator: Annotator, *, delimiter: str = ",",
             total: int | None = None, on_error: Callable[[int, str], None] | None = None,
             progress: Callable[[int, int | None, float], None] | None = None) -> Stats:
    """Annotate a CSV stream; bad rows get their `error` and are reported through `on_error(line, text)`."""
    started = time.perf_counter()
    reader = csv.reader(reader_fh, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError("the file is empty (it needs a header row naming the profile fields)") from None
    fields = [column_field(h) for h in header]
    if "status" not in fields:
        raise ValueError("no `status` column: the header must name the profile fields (%s)" % ", ".join(PROFILE_FIELDS))
    kept = [i for i, h in enumerate(header) if h.strip() not in ADDED_COLUMNS]
    profile_cols = [(i, f) for i, f in enumerate(fields) if f]
    writer = csv.writer(writer_fh, delimiter=delimiter, lineterminator="\n")
    writer.writerow([header[i] for i in kept] + list(ADDED_COLUMNS))
    stats = Stats()
    last_line = reader.line_num
    whole = len(kept) == len(header)
    empty = [""] * (len(ADDED_COLUMNS) - 1)
    for cells in reader:
        line = last_line + 1
        last_line = reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue
        stats.rows += 1
        if len(cells) > len(header):
            error = "the row has %d cells, the header %d" % (len(cells), len(header))
        else:
            key, profile, error = annotator.parse(tuple((f, cells[i] if i < len(cells) else "")
                                                        for i, f in profile_cols))
        out = list(cells) if whole and len(cells) == len(header) else [cells[i] if i < len(cells) else "" for i in kept]
        if error is None:
            added = annotator.answer(key, profile)
            writer.writerow(out + [added[c] for c in ADDED_COLUMNS])
        else:
            stats.errors += 1
            if on_error:
                on_error(line, error)
            writer.writerow(out + empty + [error])
        if progress and stats.rows % PROGRESS_EVERY == 0:
            progress(stats.rows, total, time.perf_counter() - started)
    stats.distinct = annotator.distinct
    stats.seconds = time.perf_counter() - started
    if progress:
        progress(stats.rows, total, stats.seconds)
    return stats


def count_rows(path: str) -> int | None:
    """Data rows of a file (lines after the header; quoted line breaks make it an estimate)."""
    try:
        lines, last = 0, b""
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                lines += block.count(b"\n")
                last = block[-1:]
        lines += 1 if last not in (b"", b"\n") else 0
        return max(0, lines - 1)
    except OSError:
        return None


def text_progress(stream=sys.stderr, min_interval: float = 0.2):
    """A one-line progress bar on `stream`."""
    state = {"at": 0.0}

    def show(done: int, total: int | None, seconds: float) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - state["at"] < min_interval:
            return
        state["at"] = now
        rate = done / seconds if seconds > 0 else 0.0
        if total:
            width = 30
            filled = int(width * min(done, total) / total)
            stream.write("\rannotate [%s%s] %s/%s rows (%d%%) %s rows/s" % (
                "#" * filled, "." * (width - filled), format(done, ","), format(total, ","),
                100 * min(done, total) // total, format(int(rate), ",")))
        else:
            stream.write("\rannotate %s rows, %s rows/s" % (format(done, ","), format(int(rate), ",")))
        if final:
            stream.write("\n")
        stream.flush()
    return show
