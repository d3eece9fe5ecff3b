"""Revisions of the source document written by the tests, each derived from the project's verbatim copy
(`loaders/data/acs-aml-refractory-relapsed.txt`) by one kind of edit a publisher makes."""
from __future__ import annotations

import textwrap

from tests.conftest import SOURCE_TEXT

ORIGINAL = SOURCE_TEXT.read_text(encoding="utf-8")

SPLIT_OLD = "A stem cell transplant may be an option for some people, as it can allow higher doses of chemo to be used."
SPLIT_NEW = "A stem cell transplant may be an option for some people. It can allow higher doses of chemo to be used."
HEDGE_OLD = "one option might be treatment with the FLT3 inhibitor"
HEDGE_NEW = "one option is treatment with the FLT3 inhibitor"
REMOVED = "Taking part in a clinical trial is another option."
NEW_HEADING = "For AML with a rearrangement of the KMT2A gene"
NEW_SENTENCE = ("If the leukemia cells have a KMT2A gene rearrangement, one option might be the menin inhibitor "
                "revumenib (Revuforj).")
#: the document's own treatment sentences the curated data leaves out on purpose (acs-recommendations.yaml)
UNMODELLED = [
    "This is called palliative treatment or supportive care.",
    "But many people get very effective pain relief from these medicines without serious side effects.",
]


def section(text: str, heading: str) -> tuple[int, int]:
    """(start, end) of a section: from its heading line to the next heading of the curated sections."""
    start = text.index("\n%s\n" % heading) + 1
    following = [text.index("\n%s\n" % h, start) + 1 for h in HEADINGS if "\n%s\n" % h in text[start:]
                 and text.index("\n%s\n" % h, start) + 1 > start]
    return start, min(following)


HEADINGS = ["Treatment for most types of AML", "For AML with a mutation in the FLT3 gene",
            "For AML with a mutation in the IDH1 or IDH2 gene", "Treatment for acute promyelocytic leukemia (APL)",
            "Supportive treatment for leukemia that won't go away",
            "The American Cancer Society medical and editorial content team"]


def unchanged() -> str:
    return ORIGINAL


def reordered() -> str:
    """The FLT3 and IDH sections swapped."""
    f0, f1 = section(ORIGINAL, HEADINGS[1])
    i0, i1 = section(ORIGINAL, HEADINGS[2])
    assert f1 == i0
    return ORIGINAL[:f0] + ORIGINAL[i0:i1] + ORIGINAL[f0:f1] + ORIGINAL[i1:]


def typographic() -> str:
    """Curly apostrophes straightened (and one straight one curled), a no-break space, a non-breaking hyphen."""
    return (ORIGINAL.replace("\u2019", "'").replace("isn't", "isn\u2019t")
            .replace("stem cell transplant may be an option", "stem cell\u00a0transplant may be an option")
            .replace("non-chemo", "non\u2011chemo"))


def reflowed() -> str:
    """Every paragraph wrapped at 60 columns (line breaks inside sentences, also after hyphens)."""
    return "\n\n".join(textwrap.fill(p, 60) for p in ORIGINAL.split("\n\n"))


def split() -> str:
    assert SPLIT_OLD in ORIGINAL
    return ORIGINAL.replace(SPLIT_OLD, SPLIT_NEW)


def hedge() -> str:
    assert HEDGE_OLD in ORIGINAL
    return ORIGINAL.replace(HEDGE_OLD, HEDGE_NEW)


def removed() -> str:
    assert " " + REMOVED in ORIGINAL
    return ORIGINAL.replace(" " + REMOVED, "")


MERGED_OLD = "higher doses of chemo to be used. Clinical trials of new treatment approaches may also be an option."
MERGED_NEW = "higher doses of chemo to be used, and clinical trials of new treatment approaches may also be an option."
CLAUSE_OLD = "If AML comes back sooner than 12 months, most doctors"
CLAUSE_NEW = "If AML comes back sooner than 12 months (and the patient is otherwise well), most doctors"


def merged() -> str:
    """Two quoted sentences joined into one, and a clause inserted into a third."""
    assert MERGED_OLD in ORIGINAL and CLAUSE_OLD in ORIGINAL
    return ORIGINAL.replace(MERGED_OLD, MERGED_NEW).replace(CLAUSE_OLD, CLAUSE_NEW)


def new_section() -> str:
    """A section naming a drug the document does not (the graph knows it from the FDA approvals source)."""
    at = section(ORIGINAL, HEADINGS[3])[0]
    return ORIGINAL[:at] + "%s\n\n%s\n\n" % (NEW_HEADING, NEW_SENTENCE) + ORIGINAL[at:]


def unrelated() -> str:
    """A page about something else entirely."""
    return ("Growing tomatoes on a balcony\n\n"
            "Tomatoes need at least six hours of sun a day. Water them deeply twice a week, and more often "
            "in a heat wave. A stake or a cage keeps the stems off the ground.\n\n"
            "Harvest\n\nPick the fruit when it is fully coloured and gives slightly when pressed. "
            "Green tomatoes ripen indoors on a sunny windowsill.\n") * 3


def ten_megabytes() -> str:
    """The hedged revision followed by copies of itself, 10 MB in all."""
    text = hedge()
    return text * (10_000_000 // len(text.encode("utf-8")) + 1)
