"""A patient's FHIR R4 record read into the options finder's profile.

Each resource is first checked with the `fhir.resources` R4B models (an invalid one is a
`RecordError` naming it); codes are read through the project's code table (`codes.py`) only.
What the record does not settle stays out of the profile and is said in `Reading.notes`; nothing
is assumed: a gene tested Absent is settled as not mutated, a gene never tested stays unknown.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from ..options import side_of_bounds
from . import codes

#: statuses meaning the resource should not be read (FHIR R4 value sets of each resource's status)
SKIP_STATUS = {"entered-in-error", "cancelled", "not-done", "not-taken", "registered", "draft", "preparation",
               "stopped-before-start", "unknown-error"}
REFUTED = {"refuted", "entered-in-error"}
#: Condition.clinicalStatus is bound (required) to this code system: a coding may leave it out
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
MEDICATION_TYPES = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")
DRUG_FIELD = {"MedicationStatement": "medicationCodeableConcept", "MedicationRequest": "medicationCodeableConcept",
              "MedicationAdministration": "medicationCodeableConcept"}
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class RecordError(ValueError):
    """A resource of the record is not valid FHIR; `errors` maps each resource to its problem."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join("%s: %s" % kv for kv in errors.items()))
        self.errors = errors


@dataclass
class Reading:
    """What a record says for the profile, and what it leaves open."""
    has_aml: bool = False
    fields: dict = field(default_factory=dict)           # profile fields the record settles
    statuses: list[str] = field(default_factory=list)    # one: settled; two: left open
    ranges: dict = field(default_factory=dict)           # age / remission_months: (lowest, highest)
    notes: list[str] = field(default_factory=list)       # what stays open, in words for the card
    read: list[str] = field(default_factory=list)        # what was read, in words


# -- resources -----------------------------------------------------------------------------------
def validate(resource) -> dict:
    """`resource` checked against its FHIR R4B model; a RecordError names what is wrong."""
    if not isinstance(resource, dict):
        raise RecordError({"resource": "must be a JSON object, not %s" % type(resource).__name__})
    kind = resource.get("resourceType")
    name = "%s/%s" % (kind, resource.get("id", "?")) if isinstance(kind, str) else "resource"
    if not isinstance(kind, str) or not kind:
        raise RecordError({name: "has no resourceType"})
    if kind == "Bundle":  # each entry first, so a problem names the resource, not the Bundle
        for entry in resource.get("entry") or () if isinstance(resource.get("entry"), list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                validate(entry["resource"])
    try:
        model = get_fhir_model_class(kind)
    except ValueError:
        raise RecordError({name: "%r is not a FHIR resource type" % kind}) from None
    try:
        model.model_validate(resource)
    except ValidationError as e:
        problems = ["%s: %s" % (".".join(str(p) for p in err["loc"]) or kind, err["msg"]) for err in e.errors()[:3]]
        raise RecordError({name: "invalid FHIR %s (%s)" % (kind, "; ".join(problems))}) from None
    except (TypeError, ValueError) as e:
        raise RecordError({name: "invalid FHIR %s (%s)" % (kind, e)}) from None
    return resource


def flatten(resource) -> list[dict]:
    """A validated resource as the list of resources it holds (a Bundle of any type: its entries,
    nested Bundles too; searchset outcomes are left out)."""
    if resource is None:
        return []
    if resource.get("resourceType") != "Bundle":
        return [resource]
    out = []
    for entry in resource.get("entry") or ():
        if (entry.get("search") or {}).get("mode") == "outcome":
            continue
        inner = entry.get("resource")
        if isinstance(inner, dict):
            out.extend(flatten(inner))
    return out


# -- dates ---------------------------------------------------------------------------------------
def date_range(value) -> tuple[dt.date, dt.date] | None:
    """The first and last day a FHIR date or dateTime can mean (a year alone: Jan 1 .. Dec 31).

    >>> date_range("1960"), date_range("2024-02-10T09:00:00Z")[0]
    ((datetime.date(1960, 1, 1), datetime.date(1960, 12, 31)), datetime.date(2024, 2, 10))
    """
    if not isinstance(value, str):
        return None
    m = _DATE.match(value.strip())
    if not m:
        return None
    try:
        year = int(m.group(1))
        if m.group(3):
            d = dt.date(year, int(m.group(2)), int(m.group(3)))
            return d, d
        if m.group(2):
            month = int(m.group(2))
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        return None


def _when(resource: dict, prefix: str) -> tuple[dt.date, dt.date] | None:
    """`<prefix>DateTime`, `<prefix>Period.start` or `<prefix>Date` of a resource as a date range."""
    for key in (prefix + "DateTime", prefix + "Date", prefix + "Instant"):
        if key in resource:
            return date_range(resource[key])
    period = resource.get(prefix + "Period")
    if isinstance(period, dict):
        return date_range(period.get("start"))
    return None


def years_between(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def months_between(start: dt.date, end: dt.date) -> float:
    """Calendar months from `start` to `end` (a year to the day is 12.0), to one decimal.

    >>> months_between(dt.date(2023, 1, 10), dt.date(2024, 1, 10)), months_between(dt.date(2024, 1, 31), dt.date(2024, 3, 15))
    (12.0, 1.5)
    """
    whole = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        whole -= 1
    anchor_month = start.month - 1 + whole
    year, month = start.year + anchor_month // 12, anchor_month % 12 + 1
    anchor = dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
    return round(whole + (end - anchor).days / 30.4375, 1)


# -- the record ----------------------------------------------------------------------------------
def _concepts(value) -> list:
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def _status_code(concept) -> str:
    for coding in (concept or {}).get("coding") or ():
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _about_other_patient(resource: dict, patient_id: str | None) -> bool:
    if not patient_id:
        return False
    ref = (resource.get("subject") or resource.get("patient") or {}).get("reference")
    if not isinstance(ref, str) or "Patient/" not in ref:
        return False
    return ref.split("Patient/", 1)[1].split("/", 1)[0] != patient_id


def _label(concept) -> str:
    if not isinstance(concept, dict):
        return "?"
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or ():
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return "?"


def read_record(resources: list[dict], patient_id: str | None = None, today: dt.date | None = None) -> Reading:
    """What validated resources say for the profile (see the module's docstring)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    reading = Reading()
    by_ref = {"%s/%s" % (r.get("resourceType"), r.get("id")): r for r in resources if r.get("id")}
    mine = [r for r in resources if not _about_other_patient(r, patient_id)]
    diseases, statuses, remission_phase = set(), set(), []
    remission_starts, relapse_onsets = [], []
    present, absent, unclear = set(), set(), set()
    drugs, procedures, symptoms = set(), set(), set()

    for r in mine:
        kind = r.get("resourceType")
        if kind == "Condition":
            if _status_code(r.get("verificationStatus")) in REFUTED:
                continue
            meaning = codes.meanings(r.get("code"))
            clinical = codes.meanings(r.get("clinicalStatus"), CLINICAL)
            if any(f == "disease" for f, _ in meaning):
                diseases.update(v for f, v in meaning if f == "disease")
                found = {v for f, v in meaning + clinical if f == "status"}
                statuses.update(found)
                if any(f == "phase" for f, _ in meaning + clinical) and not found:
                    remission_phase.append(_label(r.get("code")))
                abated = _when(r, "abatement")
                if abated:
                    remission_starts.append(abated)
                onset = _when(r, "onset") or date_range(r.get("recordedDate"))
                if found == {"relapsed"} and onset:
                    relapse_onsets.append(onset)
            elif not any(f == "phase" for f, _ in clinical):
                symptoms.update(v for f, v in meaning if f == "symptom")
        elif kind == "Observation":
            if r.get("status") in SKIP_STATUS:
                continue
            _read_observation(r, present, absent, unclear, symptoms, remission_starts, reading)
        elif kind in MEDICATION_TYPES:
            if r.get("status") in SKIP_STATUS:
                continue
            concept = r.get(DRUG_FIELD[kind])
            ref = (r.get("medicationReference") or {}).get("reference")
            if concept is None and isinstance(ref, str):
                medication = _resolve(ref, r, by_ref)
                concept = (medication or {}).get("code")
            drugs.update(codes.values(concept, "prior_drug"))
        elif kind == "Procedure":
            if r.get("status") in SKIP_STATUS:
                continue
            procedures.update(codes.values(r.get("code"), "prior_procedure"))

    if not diseases:
        return reading
    reading.has_aml = True
    _read_subtype(diseases, prior_apl_therapy(drugs, procedures), reading)

    if len(statuses) == 1:
        reading.statuses = sorted(statuses)
        reading.read.append("status: %s" % reading.statuses[0])
    else:
        reading.statuses = ["relapsed", "refractory"]
        if statuses:
            reading.notes.append("the record codes the AML as both relapsed and refractory: status left open")
        elif remission_phase:
            reading.notes.append("the record shows the AML in remission (%s); whether it has come back or not "
                                 "responded is left open" % ", ".join(sorted(set(remission_phase))))
        else:
            reading.notes.append("the record does not say whether the AML came back (relapsed) or did not "
                                 "respond to treatment (refractory)")

    _read_patient(mine, patient_id, today, reading)
    _read_remission(statuses, remission_starts, relapse_onsets, reading)
    _read_mutations(present, absent, unclear, reading)
    _read_prior_therapy(drugs, procedures, reading)
    if symptoms:
        reading.fields["symptoms"] = sorted(symptoms)
        reading.read.append("symptoms: %s" % ", ".join(sorted(symptoms)))
    return reading


def _resolve(ref: str, owner: dict, by_ref: dict) -> dict | None:
    if ref.startswith("#"):
        for contained in owner.get("contained") or ():
            if contained.get("id") == ref[1:]:
                return contained
        return None
    tail = "/".join(ref.rstrip("/").split("/")[-2:])
    return by_ref.get(tail)


def _read_observation(r: dict, present: set, absent: set, unclear: set, symptoms: set,
                      remission_starts: list, reading: Reading) -> None:
    code_meaning = codes.meanings(r.get("code"))
    value = r.get("valueCodeableConcept")
    value_meaning = codes.meanings(value)
    if ("variant", "assessment") in code_meaning:
        genes = set()
        for component in r.get("component") or ():
            if ("variant", "gene") in codes.meanings(component.get("code")):
                concept = component.get("valueCodeableConcept")
                known = codes.values(concept, "gene")
                genes.update(known)
                if not known and ("variant", "present") in value_meaning:
                    reading.notes.append("a variant result for %s was not read (its gene is not coded as FLT3, IDH1 "
                                         "or IDH2 by HGNC id)" % _label(concept))
        result = [v for f, v in value_meaning if f == "variant" and v in ("present", "absent")]
        for gene in genes:
            if result == ["present"]:
                present.add(gene)
            elif result == ["absent"]:
                absent.add(gene)
            else:
                unclear.add(gene)
        return
    if ("phase", "remission") in value_meaning:
        when = _when(r, "effective")
        if when:
            remission_starts.append(when)
        return
    said_no = r.get("valueBoolean") is False or ("variant", "absent") in value_meaning
    for f, v in code_meaning + value_meaning:
        if f == "symptom" and not said_no:
            symptoms.add(v)


def _read_patient(resources: list[dict], patient_id: str | None, today: dt.date, reading: Reading) -> None:
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    patient = next((p for p in patients if patient_id and p.get("id") == patient_id), patients[0] if patients else None)
    born = date_range((patient or {}).get("birthDate"))
    if born is None:
        reading.notes.append("the record gives no birth date: age left open")
        return
    reading.ranges["age"] = (years_between(born[1], today), years_between(born[0], today))


def _read_remission(statuses: set, starts: list, onsets: list, reading: Reading) -> None:
    if statuses != {"relapsed"}:
        return
    best = None
    for onset in sorted(onsets):  # the latest relapse with a remission before it counts
        before = [s for s in starts if s[1] <= onset[0]]
        if before:
            start = max(before, key=lambda s: s[1])
            best = (months_between(start[1], onset[0]), months_between(start[0], onset[1]))
    if best is None:
        reading.notes.append("the record does not date the remission before the relapse: remission length left open")
    else:
        reading.ranges["remission_months"] = best


def _read_mutations(present: set, absent: set, unclear: set, reading: Reading) -> None:
    both = present & absent
    for gene in sorted(both | (unclear - present - absent)):
        reading.notes.append("%s: the record's results do not settle it (left open)" % gene)
    present, absent = present - both, absent - both
    if not present and not absent:
        reading.notes.append("no FLT3, IDH1 or IDH2 result in the record: mutation-specific options stay open")
        return
    reading.fields["mutations"] = sorted(present)
    reading.fields["absent_mutations"] = sorted(absent)
    reading.read.append("variants: %s" % ", ".join(["%s present" % g for g in sorted(present)] +
                                                    ["%s absent" % g for g in sorted(absent)]))
    untested = sorted({"FLT3", "IDH1", "IDH2"} - present - absent)
    if untested:
        reading.notes.append("no result for %s in the record: left open" % ", ".join(untested))


def prior_apl_therapy(drugs: set, procedures: set) -> str | None:
    """The initial APL treatment a record's history shows (the document's APL section names ATRA with
    arsenic trioxide, and ATRA with chemotherapy), or None.

    >>> prior_apl_therapy({"tretinoin", "arsenic trioxide"}, set()), prior_apl_therapy({"tretinoin"}, {"chemotherapy"})
    ('ATRA+ATO', 'ATRA+chemo')
    >>> prior_apl_therapy({"tretinoin"}, set()) is None
    True
    """
    if {"tretinoin", "arsenic trioxide"} <= drugs:
        return "ATRA+ATO"
    if "tretinoin" in drugs and "chemotherapy" in procedures:
        return "ATRA+chemo"
    return None


def _read_subtype(diseases: set, therapy: str | None, reading: Reading) -> None:
    """AML or APL, decided once: APL when the record codes it, or when it codes AML without the
    subtype but shows an initial APL treatment (read as APL, and said so, as a question naming that
    history is: a 422 would leave the clinician with no card at all)."""
    if "APL" in diseases:
        reading.fields["disease"] = "APL"
        reading.read.append("disease: APL")
        if "AML" in diseases:
            reading.notes.append("the record codes both AML and APL (a kind of AML); read as APL")
    elif therapy is not None:
        reading.fields["disease"] = "APL"
        reading.read.append("disease: APL (from the treatment history)")
        reading.notes.append("the record codes AML without the APL subtype but shows %s as an earlier "
                             "treatment, an initial APL treatment: read as APL" % _THERAPY_WORDS[therapy])
    else:
        reading.fields["disease"] = "AML"
        reading.read.append("disease: AML (no APL code in the record)")


def _read_prior_therapy(drugs: set, procedures: set, reading: Reading) -> None:
    therapy = prior_apl_therapy(drugs, procedures)
    if therapy is not None:
        reading.fields["prior_therapy"] = therapy
        reading.read.append("prior therapy: %s" % therapy)
    elif reading.fields.get("disease") == "APL":
        shown = sorted(drugs | procedures)
        reading.notes.append("prior APL treatment left open (the record shows %s)" % (", ".join(shown) if shown else "none"))


_THERAPY_WORDS = {"ATRA+ATO": "ATRA with arsenic trioxide", "ATRA+chemo": "ATRA with chemotherapy"}


def settle(reading: Reading, bounds: dict) -> dict:
    """The profile fields of a reading, numbers included where the range they may lie in is on the
    same side of every threshold the document uses (`bounds`, per field); otherwise left open."""
    fields = dict(reading.fields)
    names = {"age": "age", "remission_months": "remission length (months)"}
    for name, (low, high) in reading.ranges.items():
        if low == high or side_of_bounds(low, bounds.get(name, [])) == side_of_bounds(high, bounds.get(name, [])):
            fields[name] = low
            reading.read.append("%s: %s" % (names[name], low if low == high else "%s-%s" % (low, high)))
        else:
            reading.notes.append("%s is between %s and %s by the record's dates: left open" % (names[name], low, high))
    return fields
