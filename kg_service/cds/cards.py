"""CDS Hooks cards from the options for a record (`kg_service.fhir.answer`): one card per option,
each with the document's sentence, its section, what the record settled and what it leaves open.
"""
from __future__ import annotations

import uuid

from ..disclaimer import DISCLAIMER
from ..ui.views import entity_id

SUMMARY_MAX = 140
NOT_HELPFUL = "not likely helpful"
_UUID_NS = uuid.UUID("6f1c4a52-3b8e-4f7e-9a51-6d2f0c7a8e10")
def summary(option: dict) -> str:
    """`Therapy (Brand): strength`, then what is still open, at most 140 characters.

    >>> summary({"therapy": {"label": "ivosidenib", "brand": "Tibsovo"}, "strength": "option", "conditions": []})
    'Ivosidenib (Tibsovo): option'
    >>> len(summary({"therapy": {"label": "x"}, "strength": "advised", "conditions": ["if " + "y" * 200]}))
    140
    """
    therapy = option["therapy"]
    name = therapy["label"][:1].upper() + therapy["label"][1:]
    if therapy.get("brand"):
        name += " (%s)" % therapy["brand"]
    text = "%s: %s" % (name, option["strength"])
    if option["conditions"]:
        text += " — open: %s" % "; ".join(option["conditions"])
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"


def card(option: dict, base_url: str, record_read: list[str], record_open: list[str], version: str) -> dict:
    """One CDS Hooks card for one option."""
    source = option["source"]
    lines = ["> %s" % source["quote"],
             "**Section:** %s" % source["section"],
             "**Strength:** %s (the document: “%s”)" % (option["strength"], option["strength_wording"])]
    if option.get("caveat"):
        lines.append("**Caveat:** %s" % option["caveat"])
    if option["why"]:
        lines.append("**Matched in the record:** %s" % "; ".join(option["why"]))
    open_items = list(option["conditions"])
    lines.append("**Open conditions:** %s" % ("; ".join(open_items) if open_items else "none"))
    if record_open:
        lines.append("**The record leaves open:** %s" % "; ".join(record_open))
    if record_read:
        lines.append("**Read from the record:** %s" % "; ".join(record_read))
    if option.get("note"):
        lines.append("*Note:* %s" % option["note"])
    lines.append("*%s*" % DISCLAIMER)
    links = []
    for label, iri in (("amlkg: %s" % option["therapy"]["label"], option["therapy"]["id"]),
                       ("amlkg: the recommendation and its sentence", option["recommendation"])):
        local = entity_id(iri)
        if local:
            links.append({"label": label, "url": "%sentity/%s" % (base_url, local), "type": "absolute"})
    document = entity_id(source["document"])
    return {
        "uuid": str(uuid.uuid5(_UUID_NS, "%s|%s" % (version, option["recommendation"]))),
        "summary": summary(option),
        "indicator": "warning" if option["strength"] == NOT_HELPFUL else "info",
        "detail": "\n\n".join(lines),  # one Markdown paragraph each
        "source": {
            "label": "American Cancer Society: %s (revised %s)" % (source["title"], source["revised"]),
            "url": "%sentity/%s" % (base_url, document) if document else source["document"],
        },
        "links": links,
    }
