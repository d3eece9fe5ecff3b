"""Regression (found by tests/security/test_fuzz.py::test_named_query_parameters_bind_as_terms_or_are_refused):
the binder's IRI check used `$`, which also matches before a final newline, so ``entity=A%0A`` bound
``<https://w3id.org/amlkg/A\\n>`` into the query text (a syntax error there; the shape of an injection).
The checks use \\Z now; such a value is refused as a term and answered 400."""
from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from kg_service.store import BindingError, term_to_sparql


@pytest.mark.parametrize("value", [URIRef("https://w3id.org/amlkg/A\n"), Literal("x", lang="en\n")])
def test_a_trailing_newline_is_refused(value):
    with pytest.raises(BindingError):
        term_to_sparql(value)


def test_over_http_it_is_a_400(client):
    for path in ("/api/queries/entity?entity=A%0A", "/api/queries/targeted-drugs?kind=IDHInhibitor%0A"):
        r = client.get(path)
        assert r.status_code == 400 and r.mimetype == "application/problem+json", (path, r.data[:200])
