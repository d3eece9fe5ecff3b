"""kg_service.pathway on its own: graph rows in, SVG out (no store, no Flask)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from kg_service import pathway

SVG = "{http://www.w3.org/2000/svg}"
STRENGTHS = [("advised", 1), ("option", 4), ("not likely helpful", 9)]


def row(rec, order, therapy, strength, rank, section="Section A", section_order=1, condition=None, text=None,
        field=None, cond_order=1, brands=""):
    r = {"recommendation": rec, "order": order, "section": section, "sectionOrder": section_order,
         "therapy": "urn:t:" + therapy.replace(" ", "-"), "therapyLabel": therapy, "brands": brands,
         "strength": strength, "strengthRank": rank, "wording": "might be"}
    if condition:
        r.update(condition=condition, conditionText=text, conditionOrder=cond_order, field=field)
    return r


ROWS = [
    row("r1", 1, "drug <one> & co", "option", 4, condition="c1s", text="if it is relapsed AML", field="status"),
    row("r1", 1, "drug <one> & co", "option", 4, condition="c1m", text="if the cells have an X mutation",
        field="mutations", cond_order=2),
    row("r2", 2, "transplant", "advised", 1, condition="c2s", text="if it is relapsed AML", field="status"),
    row("r2", 2, "transplant", "advised", 1, condition="c2d", text="if a suitable donor can be found",
        field="", cond_order=2),
    row("r3", 3, "chemo", "not likely helpful", 9, condition="c3s", text="if it is refractory AML", field="status"),
    row("r4", 4, "care", "brand-new strength", 5, section="Section B", section_order=2),
]


def test_collect_groups_rows_by_section_and_recommendation():
    sections = pathway.collect(ROWS)
    assert [s for s, _ in sections] == ["Section A", "Section B"]
    first = sections[0][1]
    assert [o.recommendation for o in first] == ["r1", "r2", "r3"]
    assert [c[2] for c in first[0].conditions] == ["if it is relapsed AML", "if the cells have an X mutation"]


def test_render_is_valid_xml_and_escapes_labels():
    svg = pathway.render(pathway.collect(ROWS), STRENGTHS + [("brand-new strength", 5)], title="T & <t>")
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == SVG + "svg"
    text = " ".join(" ".join(t.itertext()) for t in root.iter(SVG + "text"))
    assert "drug <one> & co" in text and "T & <t>" in text
    for label in ("transplant", "chemo", "care"):
        assert label in text


def test_situations_are_shared_and_the_tree_has_no_overlaps():
    tree = pathway.build_tree(pathway.collect(ROWS))
    heading, situations = tree[0]
    assert heading == "Section A"
    assert len(situations) == 2          # relapsed (r1, r2) and refractory (r3)
    relapsed = situations[0]
    assert [len(c.children) for c in relapsed.children] == [1, 1]
    y = 0.0
    for sit in situations:
        y += pathway._place(sit, y) + 10
        for box in [sit] + sit.children:
            if box.children:
                first, last = box.children[0], box.children[-1]
                centre = box.y + box.h / 2
                assert first.y <= centre <= last.y + last.h
            for a, b in zip(box.children, box.children[1:]):
                assert a.y + a.h <= b.y  # siblings never overlap, so edges never cross


def test_unknown_strength_gets_a_colour_of_its_own():
    colours = pathway.strength_colours(STRENGTHS + [("brand-new strength", 5)])
    assert colours["brand-new strength"] not in (colours["advised"], colours["option"])


def test_profile_overlay_marks_taken_and_faded_paths():
    states = {"r1": {"c1s": "met", "c1m": "met"}, "r2": {"c2s": "met", "c2d": "open"},
              "r3": {"c3s": "unmet"}}
    svg = pathway.render(pathway.collect(ROWS), STRENGTHS, taken={"r1"}, states=states,
                         link=lambda iri: "/entity/" + iri.rsplit(":", 1)[-1])
    root = ET.fromstring(svg.encode("utf-8"))
    nodes = {n.get("data-recommendation"): n.get("class").split() for n in root.iter()
             if n.get("data-recommendation")}
    assert set(nodes) == {"r1", "r2"}    # r3's situation (refractory) is not this profile's; r4 has no status
    assert "taken" in nodes["r1"] and "faded" in nodes["r2"]
    text = " ".join(" ".join(t.itertext()) for t in root.iter(SVG + "text"))
    assert "\u2713 if the cells have an X mutation" in text and "? if a suitable donor can be found" in text
    assert {a.get("href") for a in root.iter(SVG + "a")} == {"/entity/drug-<one>-&-co", "/entity/transplant"}


def test_an_empty_picture_says_so():
    svg = pathway.render([], STRENGTHS, states={}, taken=set())
    assert "names no option" in svg
    ET.fromstring(svg.encode("utf-8"))
