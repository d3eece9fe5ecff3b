"""Every notebook in notebooks/ runs top to bottom against a real server (AMLKG_URL), and is kept in git
with its outputs stripped."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_there_is_a_notebook_for_each_audience():
    assert {p.stem for p in NOTEBOOKS} >= {"researchers", "ontologists", "app_developers"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_against_the_service(path, live_server, monkeypatch, tmp_path):
    pytest.importorskip("ipykernel", reason="notebooks run in the ipykernel `python3` kernel")
    monkeypatch.setenv("AMLKG_URL", live_server.url)   # the kernel inherits the environment
    nb = nbformat.read(str(path), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(e))   # IPython colours its tracebacks
        pytest.fail("%s failed:\n%s" % (path.name, plain[-3000:]))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    if path.stem == "researchers":
        images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
        assert images, "the researchers' notebook draws one plot"


def test_owlready2_reaches_the_terms_through_their_namespace_as_the_notebook_shows():
    """`onto.Treatment` is None (the ontology IRI is not the terms' namespace); the ontologists'
    notebook shows `onto.get_namespace(...)`, which works, and says why."""
    owlready2 = pytest.importorskip("owlready2")
    world = owlready2.World()
    onto = world.get_ontology((ROOT / "ontology" / "amlkg.owl").as_uri()).load()
    terms = onto.get_namespace("https://w3id.org/amlkg/")
    assert onto.Treatment is None
    assert terms.Treatment is not None and terms.Treatment.iri == "https://w3id.org/amlkg/Treatment"
    assert terms.Ivosidenib in terms.Treatment.descendants()
    nb = json.loads((ROOT / "notebooks" / "ontologists.ipynb").read_text(encoding="utf-8"))
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert 'onto.get_namespace("https://w3id.org/amlkg/")' in code
    assert "assert onto.Treatment is None and A.Treatment is not None" in code
    assert "onto.Treatment" in prose and "get_namespace" in prose
