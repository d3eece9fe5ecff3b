"""The options finder's answer for a patient's FHIR record: the record read into a profile
(`record.py`), the finder asked, one list of options. Shared by the CDS Hooks service and `$apply`.

When the record does not say whether the AML is relapsed or refractory, the finder is asked for
both and an option found for only one of them carries that status as an open condition.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ProblemError
from ..options import ProfileError, parse_profile
from ..services import get_finder
from .record import Reading, read_record, settle


@dataclass
class RecordAnswer:
    reading: Reading
    options: list[dict]
    graph_version: str | None


def answer_record(resources: list[dict], patient_id: str | None) -> RecordAnswer:
    """The options for validated resources (none when the record has no AML)."""
    reading = read_record(resources, patient_id)
    if not reading.has_aml:
        return RecordAnswer(reading, [], None)
    finder = get_finder()
    fields = settle(reading, finder.snapshot().bounds)
    answers = {}
    for status in reading.statuses:
        try:
            profile = parse_profile({**fields, "status": status})
        except ProfileError as e:  # the reader only writes fields the parser knows: a fault to report
            raise ProblemError(422, "Record not usable", "; ".join("%s: %s" % kv for kv in e.errors.items()),
                               kind="record-not-usable", errors=e.errors) from None
        answers[status] = finder.find(profile)
    return RecordAnswer(reading, merge_answers(answers), next(iter(answers.values()))["graph_version"])


STATUS_WORDS = {"relapsed": "if the AML has come back after treatment (relapsed; the record does not say)",
                "refractory": "if the AML has not responded to treatment (refractory; the record does not say)"}


def merge_answers(answers: dict[str, dict]) -> list[dict]:
    """The options of one finder answer per status, as one list; an option only one status brings
    gets that status as an open condition (the finder's own order: the first answer's, then new ones)."""
    if len(answers) == 1:
        return list(next(iter(answers.values()))["options"])
    seen: dict[str, dict] = {}
    found_in: dict[str, list[str]] = {}
    for status, answer in answers.items():
        for option in answer["options"]:
            found_in.setdefault(option["recommendation"], []).append(status)
            if option["recommendation"] not in seen:
                seen[option["recommendation"]] = option
    merged = []
    for rec, option in seen.items():
        statuses = found_in[rec]
        why = [w for w in option["why"] if not w.startswith("status ")]
        conditions = list(option["conditions"])
        if len(statuses) == 1:
            conditions.insert(0, STATUS_WORDS[statuses[0]])
        merged.append({**option, "why": why, "conditions": conditions})
    return merged
