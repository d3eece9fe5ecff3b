"""Build the graph: sources -> named graphs -> SHACL -> QC queries -> reasoning -> publish + release files.

Nothing is written to the store until every check has passed, and the store swaps to the new
version in one step, so a failed or killed build leaves the served graph as it was. The same
inputs give the same triples (blank nodes canonicalised) and the same `graph_version`.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
import rdflib
import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS

from kg_service.store import META_GRAPH, StoreError, open_store
from kg_service.store.versions import MANIFEST_FILE
from kg_service.vocab import AMLKG, INFERRED_GRAPH, ONTOLOGY_GRAPH, PROV

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCES = HERE / "sources.yaml"
SHAPES_DIR = ROOT / "ontology" / "shapes"
QC_DIR = ROOT / "ontology" / "qc"


class BuildError(Exception):
    """The build stopped; the message says which step, file and record."""


@dataclass
class Source:
    id: str
    graph: str
    loader: str
    title: str
    files: dict  # name -> Path
    checksums: dict  # name -> expected sha256 (upstream files only)
    revisions: dict = None  # name -> revision date (ISO) of a file that is one revision of a document
    revised: str | None = None  # the revision the source's quotes are anchored in unless a record says otherwise


def read_sources(path: Path | None = None, project: Path | None = None) -> list[Source]:
    """The source registry, with file paths made absolute and checked to stay inside `project`
    (loaders/safe_inputs.py: the build reads only the files named here)."""
    from .safe_inputs import UnsafeInput, check_entry, check_yaml, source_path
    path = path or SOURCES
    project = project or ROOT
    try:
        raw = path.read_bytes()
        check_yaml(raw, path.name)
        data = yaml.safe_load(raw)
        out = []
        for entry in data["sources"]:
            where = "source %s" % entry.get("id")
            check_entry(entry, where)
            files, sums, revisions = {}, {}, {}
            for name, spec in entry["files"].items():
                files[name] = source_path(spec["path"], path, project, where)
                if spec.get("sha256"):
                    sums[name] = spec["sha256"]
                if spec.get("revised"):
                    revisions[name] = _iso_date(spec["revised"], "%s: file %s" % (where, name))
            revised = _iso_date(entry["revised"], where) if entry.get("revised") else None
            if revised and revised not in revisions.values():
                raise BuildError("%s: revised %s is the revision of none of its files (%s)"
                                 % (where, revised, ", ".join(sorted(revisions.values())) or "none has `revised`"))
            out.append(Source(entry["id"], entry["graph"], entry["loader"], entry.get("title", entry["id"]), files, sums,
                              revisions, revised))
    except UnsafeInput as e:
        raise BuildError(str(e)) from None
    except (OSError, KeyError, TypeError, AttributeError) as e:
        raise BuildError("%s: not a valid source registry (%s: %s)" % (path, type(e).__name__, e)) from None
    return out


def _iso_date(value, where: str) -> str:
    """A registry date (YAML reads 2022-12-01 as a date) as ISO text; anything else is refused."""
    import datetime
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return datetime.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise BuildError("%s: %r is not a date (YYYY-MM-DD)" % (where, value)) from None


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify_checksums(source: Source) -> dict:
    """Every file must exist; an upstream file must still be the verbatim copy it was recorded as."""
    from .safe_inputs import UnsafeInput, check_file
    digests = {}
    for name, path in source.files.items():
        if not path.exists():
            raise BuildError("source %s: file %s is missing" % (source.id, path))
        try:
            check_file(path, "source %s" % source.id)  # size, XML entities, YAML aliases
        except UnsafeInput as e:
            raise BuildError(str(e)) from None
        digests[name] = sha256_file(path)
        want = source.checksums.get(name)
        if want and digests[name] != want:
            raise BuildError("source %s: %s changed (sha256 %s, recorded %s); upstream sources are kept "
                             "verbatim: update sources.yaml only for a new upstream version"
                             % (source.id, path.name, digests[name], want))
    return digests


def validate_shapes(data: rdflib.Graph, tbox: rdflib.Graph) -> None:
    """SHACL-validate the data graphs against ontology/shapes/*.ttl (with the TBox for class checks)."""
    import pyshacl
    shapes = rdflib.Graph()
    for f in sorted(SHAPES_DIR.glob("*.ttl")):
        shapes.parse(f, format="turtle")
    if len(shapes) == 0:
        return
    conforms, _graph, text = pyshacl.validate(data, shacl_graph=shapes, ont_graph=tbox,
                                              inference="none", advanced=True, allow_warnings=True)
    if not conforms:
        raise BuildError("SHACL validation failed:\n%s" % text[:4000])


def run_qc(store: ox.Store) -> None:
    """Run every ontology/qc/*-violation.rq over the union of the graphs; any row fails the build."""
    problems = []
    for f in sorted(QC_DIR.glob("*-violation.rq")):
        rows = list(store.query(f.read_text(encoding="utf-8"), use_default_graph_as_union=True))
        for sol in rows[:10]:
            problems.append("%s: %s" % (f.name, ", ".join("%s=%s" % (v, sol[v]) for v in _vars(sol))))
        if len(rows) > 10:
            problems.append("%s: … %d rows in all" % (f.name, len(rows)))
    if problems:
        raise BuildError("QC queries found violations:\n  " + "\n  ".join(problems))


def _vars(solution) -> list[str]:
    try:
        return [v.value for v in solution.variables] if hasattr(solution, "variables") else []
    except Exception:
        return []


def _ntriples(g: rdflib.Graph) -> bytes:
    return g.serialize(format="nt", encoding="utf-8")


def canonical_dataset(graphs: dict[str, bytes]) -> tuple[dict[str, bytes], str]:
    """Canonicalise blank nodes across all graphs; return sorted N-Triples per graph and the version hash."""
    from kg_service.release import canonical_graphs
    ds = ox.Dataset()
    for iri, data in graphs.items():
        graph = ox.NamedNode(iri)
        for t in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
            ds.add(ox.Quad(t.subject, t.predicate, t.object, graph))
    out = canonical_graphs(ds, graphs)
    digest = hashlib.sha256()
    for iri in sorted(out):
        digest.update(iri.encode() + b"\n" + out[iri])
    return out, digest.hexdigest()


def provenance(sources: list[Source], digests: dict, graphs: dict[str, rdflib.Graph]) -> rdflib.Graph:
    """Describe each named graph: where it came from, file checksums, size."""
    g = rdflib.Graph()
    for s in sources:
        node = URIRef(s.graph)
        g.add((node, RDF.type, PROV.Entity))
        g.add((node, RDFS.label, Literal(s.title, lang="en")))
        g.add((node, AMLKG.tripleCount, Literal(len(graphs[s.graph]))))
        for name, path in s.files.items():
            g.add((node, AMLKG.sourceFile, Literal(path.name)))
            g.add((node, AMLKG.sha256, Literal("%s %s" % (digests[s.id][name], path.name))))
        for doc in graphs[s.graph].subjects(RDF.type, AMLKG.SourceDocument):
            g.add((node, PROV.wasDerivedFrom, doc))
    inferred = URIRef(INFERRED_GRAPH)
    g.add((inferred, RDF.type, PROV.Entity))
    g.add((inferred, RDFS.label, Literal("inferences of the HermiT reasoner over the ontology", lang="en")))
    g.add((inferred, PROV.wasDerivedFrom, URIRef(ONTOLOGY_GRAPH)))
    g.add((inferred, AMLKG.tripleCount, Literal(len(graphs[str(INFERRED_GRAPH)]))))
    return g




def release_manifest(sources: list[Source], digests: dict, graphs: dict[str, bytes], version: str) -> dict:
    """What a build released: its graph version, each source's files with their checksums and (for a
    document's revisions) revision dates, and the triples of each named graph. Written beside the
    release dumps and into the store's version; `python -m kg_service changes` reads it."""
    import datetime
    return {
        "graph_version": version,
        "built": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "sources": [{
            "id": s.id, "graph": s.graph, "title": s.title,
            **({"revised": s.revised} if s.revised else {}),
            "files": [{"name": name, "file": path.name, "sha256": digests[s.id][name],
                       **({"revised": (s.revisions or {})[name]} if name in (s.revisions or {}) else {})}
                      for name, path in s.files.items()],
        } for s in sources],
        "graphs": {iri: body.count(b"\n") for iri, body in sorted(graphs.items())},
    }


def write_release(release_dir: Path, graphs: dict[str, bytes], version: str, manifest: dict | None = None) -> None:
    """Release files (kg_service/release.py): the dataset as TriG/N-Quads, the union as Turtle,
    N-Triples and JSON-LD (each with the version triple); the OWL files full, base and inferred
    (kg_service/owl_release.py: own ontology IRIs, a version IRI naming `version`) and the SSSOM mappings.
    Beside them, the release manifest (`python -m kg_service changes` reads it)."""
    from kg_service.release import RELEASE_FORMATS, with_version, write_release_file
    release_dir.mkdir(parents=True, exist_ok=True)
    dataset = with_version(graphs, version)
    files = [(fmt.name, write_release_file(fmt.name, dataset)) for fmt in RELEASE_FORMATS]
    if manifest is not None:
        import json
        files.append((MANIFEST_FILE, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")))
    for name, content in files:
        tmp = release_dir / (".%s.tmp" % name)
        tmp.write_bytes(content)
        os.replace(tmp, release_dir / name)


def build(location: str, *, release_dir: str | None = "var/release", log: Callable = print) -> str:
    """Build every source into the store at `location`; return the graph version."""
    t0 = time.monotonic()

    def step(n: int, text: str) -> None:
        log("[%d/7] %s (%.1f s)" % (n, text, time.monotonic() - t0))

    sources = read_sources()
    digests = {s.id: verify_checksums(s) for s in sources}
    step(1, "read %d sources, checksums verified" % len(sources))

    graphs: dict[str, rdflib.Graph] = {}
    tbox = None
    for s in sorted(sources, key=lambda s: s.graph != str(ONTOLOGY_GRAPH)):
        module = importlib.import_module(s.loader)
        try:
            # a source with revisions of its document says which file is which revision, and which
            # one its quotes are anchored in by default
            extra = {"revisions": s.revisions, "revised": s.revised} if s.revisions else {}
            g = module.load(s.files, tbox, **extra)
        except BuildError:
            raise
        except (ValueError, KeyError, OSError) as e:
            raise BuildError("source %s (%s): %s" % (s.id, s.loader, e)) from None
        graphs[s.graph] = g
        if s.graph == str(ONTOLOGY_GRAPH):
            tbox = g
        step(2, "loaded %s: %d triples" % (s.id, len(g)))
    if tbox is None:
        raise BuildError("sources.yaml has no ontology source (%s)" % ONTOLOGY_GRAPH)

    data = rdflib.Graph()
    for iri, g in graphs.items():
        if iri != str(ONTOLOGY_GRAPH):
            data += g
    validate_shapes(data, tbox)
    step(3, "SHACL shapes conform")

    from .reasoning import infer
    try:
        inferred = infer(tbox)
    except Exception as e:
        raise BuildError("reasoning failed: %s" % e) from None
    graphs[str(INFERRED_GRAPH)] = inferred
    step(4, "reasoner (HermiT) inferred %d triples" % len(inferred))

    graphs[META_GRAPH] = provenance(sources, digests, graphs)
    canonical, version = canonical_dataset({iri: _ntriples(g) for iri, g in graphs.items()})
    qc_store = ox.Store()
    for iri, nt in canonical.items():
        qc_store.load(nt, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(iri))
    run_qc(qc_store)
    step(5, "QC queries found no violations")

    from kg_service.store.versions import CURATOR_GRAPH, carry_over, combined_version, publish_lock
    try:
        store = open_store(location, read_only=False)
        try:
            # one publisher at a time, and the curators' graph (if any) kept across the rebuild
            with publish_lock(location):
                curated = carry_over(location)
                served = dict(canonical, **{CURATOR_GRAPH: curated}) if curated else canonical
                version = combined_version(version, curated)
                manifest = release_manifest(sources, digests, served, version)
                store.publish(served, version, manifest=manifest)
        finally:
            store.close()
    except (OSError, RuntimeError, StoreError) as e:  # a full disk, a damaged or unwritable store
        raise BuildError("publishing to %s failed (%s); the previous version, if any, is still served"
                         % (location, " ".join(str(e).split())[:300])) from None
    step(6, "published version %s to %s%s" % (version[:12], location,
                                              " (curators' graph kept)" if curated else ""))

    if release_dir:
        try:
            write_release(Path(release_dir), served, version, manifest)
        except OSError as e:
            raise BuildError("writing the release files to %s failed (%s); the new version %s is published "
                             "and served" % (release_dir, e, version[:12])) from None
        step(7, "release files written to %s" % release_dir)
    log("built %d triples in %d graphs, version %s, in %.1f s"
        % (sum(len(g) for g in graphs.values()) + 1, len(graphs), version[:12], time.monotonic() - t0))  # + the version triple
    return version
