"""One snapshot per graph version (issue 12, item 3): built once however many first requests arrive
together, and built for a new version after a swap before any answer moves to that version."""
from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox

from kg_service import create_app
from kg_service.served_store import served_store
from kg_service.services import get_snapshot
from kg_service.snapshot import Snapshot, Snapshots
from kg_service.store.embedded import EmbeddedStore


class Versioned:
    """A store that only knows its version."""

    def __init__(self, version: str):
        self.version = version

    def graph_version(self) -> str:
        return self.version


def test_concurrent_first_callers_share_one_build():
    started = threading.Barrier(16)

    def slow_read(store):
        time.sleep(0.2)  # long enough for every caller to arrive while the build runs
        return Snapshot(store.graph_version(), None, {}, {}, {})
    owner, store = Snapshots(slow_read), Versioned("v1")

    def first_request(_):
        started.wait()
        return owner.get(store)
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(first_request, range(16)))
    assert owner.builds == 1 and all(s is got[0] for s in got)
    store.version = "v2"
    assert owner.get(store).version == "v2" and owner.builds == 2


def test_concurrent_first_requests_of_an_app_build_one_snapshot(store_path):
    app = create_app({"TESTING": True, "KG_STORE": store_path})
    started = threading.Barrier(8)

    def first_request(n):
        started.wait()
        r = app.test_client().get("/api/options?status=relapsed&remission_months=%d" % (3 + n))
        return r.status_code
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(first_request, range(8))) == [200] * 8
    assert app.extensions["amlkg_services"]["snapshots"].builds == 1


def _graphs(release_dir) -> dict[str, bytes]:
    out: dict[str, list[str]] = {}
    for q in ox.parse(path=str(release_dir / "amlkg.nq"), format=ox.RdfFormat.N_QUADS):
        out.setdefault(q.graph_name.value, []).append("%s %s %s ." % (q.subject, q.predicate, q.object))
    return {g: ("\n".join(lines) + "\n").encode() for g, lines in out.items()}


def test_a_swap_builds_the_new_snapshot_before_any_answer_uses_it(store_path, tmp_path):
    from pathlib import Path
    served = tmp_path / "store"
    shutil.copytree(store_path, served, symlinks=True)
    app = create_app({"TESTING": True, "KG_STORE": str(served), "KG_REFRESH_INTERVAL": 0})
    snapshots = app.extensions["amlkg_services"]["snapshots"]
    with app.app_context():
        old = get_snapshot()
    assert snapshots.builds == 1 and old.pages is not None and old.lexicon is not None and old.parts

    new_version = "c" * 64
    writer = EmbeddedStore(str(served), read_only=False)
    writer.publish(_graphs(Path(store_path).parent / "release"), new_version)
    writer.close()

    holder = served_store(app)
    found = holder.get()  # the request that finds the swap: the new version, its snapshot built first
    assert found.graph_version() == new_version
    assert snapshots.builds == 2  # built before any answer used the new version
    client = app.test_client()
    answer = client.get("/api/options?status=refractory&mutations=FLT3").get_json()
    assert answer["graph_version"] == new_version and answer["options"]
    assert client.get("/openapi.json").status_code == 200
    assert snapshots.builds == 2  # the answers used the snapshot built at the swap


def test_a_new_version_answers_from_its_own_snapshot_not_the_old_values(store_path, tmp_path):
    """What the answers derive from the graph (here the named graphs /sparql checks a dataset against,
    and the rendered pathway picture) is the new version's after a swap, never the old version's."""
    from pathlib import Path
    served = tmp_path / "store"
    shutil.copytree(store_path, served, symlinks=True)
    app = create_app({"TESTING": True, "KG_STORE": str(served), "KG_REFRESH_INTERVAL": 0})
    client = app.test_client()
    added = "https://w3id.org/amlkg/graph/added-by-a-later-build"
    ask = {"query": f"SELECT * FROM <{added}> WHERE {{ ?s ?p ?o }}"}
    json_accept = {"Accept": "application/sparql-results+json"}
    before = client.get("/sparql", query_string=ask, headers=json_accept)
    assert before.status_code == 200 and "not held by this store" in before.headers["X-AMLKG-Warning"]
    assert client.get("/pathway.svg").status_code == 200
    with app.app_context():
        old = get_snapshot()
    assert added not in old.graphs and None in old.pages.svgs
    old.pages.svgs[None] = "<svg>the old version's picture</svg>"  # were it served again, we would see it

    new_version = "d" * 64
    graphs = _graphs(Path(store_path).parent / "release")
    graphs[added] = b"<urn:amlkg-test:s> <urn:amlkg-test:p> <urn:amlkg-test:o> .\n"
    writer = EmbeddedStore(str(served), read_only=False)
    writer.publish(graphs, new_version)
    writer.close()

    after = client.get("/sparql", query_string=ask, headers=json_accept)
    assert after.status_code == 200 and "X-AMLKG-Warning" not in after.headers
    assert after.get_json()["results"]["bindings"]
    picture = client.get("/pathway.svg")
    assert picture.status_code == 200 and b"the old version's picture" not in picture.data
    with app.app_context():
        new = get_snapshot()
    assert new.version == new_version and added in new.graphs and None in new.pages.svgs
