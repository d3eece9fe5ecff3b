"""`absent_mutations` (genes tested negative): a gene tested absent rules its options out, a gene
found matches, a gene in neither list stays open — per gene, on the real graph."""
from __future__ import annotations

import pytest

from kg_service.named_queries import load_all
from kg_service.options import OptionsFinder, ProfileError, parse_profile

TARGETED = {"gilteritinib": "FLT3", "ivosidenib": "IDH1", "olutasidenib": "IDH1", "enasidenib": "IDH2"}
#: the document's opening framing: open on every active option of a profile that does not say `fit`
FITNESS = "as long as a person is healthy enough for them"


@pytest.fixture(scope="module")
def finder(store):
    return OptionsFinder(lambda: store, load_all())


def targeted(finder, **profile) -> dict[str, list[str]]:
    answer = finder.find(parse_profile({"status": "relapsed", **profile}))
    found = {o["therapy"]["label"]: o["conditions"] for o in answer["options"] if o["therapy"]["label"] in TARGETED}
    assert all(FITNESS in conditions for conditions in found.values()), found
    return {label: [c for c in conditions if c != FITNESS] for label, conditions in found.items()}


def test_flt3_absent_says_nothing_about_idh(finder):
    found = targeted(finder, absent_mutations="FLT3")
    assert "gilteritinib" not in found
    assert found["ivosidenib"] == ["if the leukemia cells have an IDH1 mutation"]
    assert found["enasidenib"] == ["if the leukemia cells have an IDH2 mutation"]


def test_found_matches_absent_rules_out_untested_stays_open(finder):
    found = targeted(finder, mutations=["IDH1"], absent_mutations=["FLT3"])
    assert found["ivosidenib"] == [] and found["olutasidenib"] == []
    assert "gilteritinib" not in found
    assert found["enasidenib"] == ["if the leukemia cells have an IDH2 mutation"]


def test_everything_tested_absent_equals_the_complete_empty_list(finder):
    assert targeted(finder, mutations=[], absent_mutations=["FLT3", "IDH1", "IDH2"]) == targeted(finder, mutations=[])


def test_without_absent_mutations_the_list_is_complete_as_before(finder):
    assert set(targeted(finder, mutations=["IDH1"])) == {"ivosidenib", "olutasidenib"}


def test_a_gene_both_found_and_absent_is_refused():
    with pytest.raises(ProfileError) as e:
        parse_profile({"status": "relapsed", "mutations": "FLT3", "absent_mutations": "flt3"})
    assert "absent_mutations" in e.value.errors
