"""Release notes: what changed between two builds of the graph.

A build is named by where it lives: an embedded store directory (its current version), one of the
versions the store keeps (``STORE@VERSION``, a prefix of the graph version, or the path of a directory
under ``STORE/versions/``), a release directory (``var/release``: its ``amlkg.nq``) or an N-Quads dump.
Each is read into named graphs of N-Triples lines (blank nodes are canonical in every build, so equal
graphs give equal lines) with the build's release manifest when it has one. The comparison lists the
recommendations added, removed and changed (field by field, read with `queries/recommendations.rq`
and `queries/quote-anchors.rq`), the sources whose files or revisions changed, and the triples added
and removed per named graph.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .named_queries import QUERIES_DIR, load_query
from .store import StoreError
from .store import rdf as ox
from .store.base import META_GRAPH
from .store.embedded import EmbeddedStore
from .store.versions import MANIFEST_FILE, version_quads

DUMP_FILE = "amlkg.nq"
#: the fields of a recommendation compared between builds (columns of the named queries)
FIELDS = ("therapyLabel", "strength", "wording", "caveat", "note", "quote", "section", "combinedWith",
          "revision", "conditions")


class BuildNotFound(ValueError):
    """The name does not lead to a build; the message says what was looked for."""


@dataclass
class Build:
    name: str
    graphs: dict[str, set[str]]  # graph IRI -> N-Triples lines
    manifest: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        if self.manifest.get("graph_version"):
            return self.manifest["graph_version"]
        for line in self.graphs.get(META_GRAPH, ()):
            if "<https://w3id.org/amlkg/graphVersion>" in line:
                return line.rsplit('"', 2)[-2]
        return ""


def open_build(name: str) -> Build:
    """The build that `name` names (see the module docstring)."""
    store, _, version = name.partition("@")
    path = Path(store)
    if version:
        return _from_version_dir(name, _kept_version(path, version))
    if path.is_file():
        return _from_dump(name, path, path.parent / MANIFEST_FILE)
    if (path / "current").exists():
        return _from_version_dir(name, (path / "current").resolve())
    if (path / DUMP_FILE).is_file():
        return _from_dump(name, path / DUMP_FILE, path / MANIFEST_FILE)
    if path.is_dir() and path.parent.name == "versions":
        return _from_version_dir(name, path)
    raise BuildNotFound("%s is neither a store, a store version, a release directory nor an N-Quads dump" % name)


def _kept_version(store: Path, version: str) -> Path:
    versions = sorted(p for p in (store / "versions").glob("*") if p.is_dir() and not p.name.startswith("."))
    if not versions:
        raise BuildNotFound("%s keeps no versions (is it a store directory?)" % store)
    found = [p for p in versions if p.name.startswith(version) or p.name == version]
    if len(found) != 1:
        raise BuildNotFound("%s keeps %s version %r: it keeps %s" % (
            store, "no" if not found else "more than one", version, ", ".join(p.name for p in versions)))
    return found[0]


def _from_version_dir(name: str, directory: Path) -> Build:
    try:
        quads = version_quads(directory)
    except StoreError as e:
        raise BuildNotFound("%s: %s" % (name, e)) from None
    return Build(name, _canonical_graphs(quads), _manifest(directory / MANIFEST_FILE))


def _canonical_graphs(quads) -> dict[str, set[str]]:
    """Named graph -> its triples as N-Triples lines, blank nodes labelled from that graph alone (a
    build labels them over the whole dataset, so an unchanged graph would otherwise differ)."""
    by_graph: dict[str, list] = {}
    for q in quads:
        by_graph.setdefault(q.graph_name.value, []).append(ox.Quad(q.subject, q.predicate, q.object))
    graphs = {}
    for iri, triples in by_graph.items():
        dataset = ox.Dataset(triples)
        if any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode) for t in triples):
            dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        graphs[iri] = {"%s %s %s ." % (q.subject, q.predicate, q.object) for q in dataset}
    return graphs


def _from_dump(name: str, path: Path, manifest: Path) -> Build:
    try:
        with open(path, "rb") as f:
            graphs = _canonical_graphs(q for q in ox.parse(f, format=ox.RdfFormat.N_QUADS)
                                       if isinstance(q.graph_name, ox.NamedNode))
    except (OSError, SyntaxError) as e:
        raise BuildNotFound("%s is not a readable N-Quads dump (%s)" % (name, str(e).splitlines()[0])) from None
    return Build(name, graphs, _manifest(manifest))


def _manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def recommendations(build: Build) -> dict[str, dict]:
    """Recommendation IRI -> its compared fields, read with the named queries."""
    store = EmbeddedStore.in_memory()
    for iri, lines in build.graphs.items():
        if lines:
            store.replace_graph(iri, "\n".join(lines).encode("utf-8") + b"\n")

    def rows(query: str):
        return [{n: str(v) for n, v in r.items()} for r in store.select(load_query(QUERIES_DIR / query).text)]
    out = {r["recommendation"]: {k: r.get(k, "") for k in FIELDS} for r in rows("recommendations.rq")}
    for r in rows("quote-anchors.rq"):
        if r["recommendation"] in out:
            out[r["recommendation"]]["revision"] = r.get("revision", "")
    conditions: dict[str, list[str]] = {}
    for r in store.select("PREFIX amlkg: <https://w3id.org/amlkg/> SELECT ?r ?t WHERE { "
                          "?r amlkg:hasCondition ?c . ?c amlkg:conditionText ?t }"):
        conditions.setdefault(str(r["r"]), []).append(str(r["t"]))
    for iri, fields in out.items():
        fields["conditions"] = "; ".join(sorted(conditions.get(iri, [])))
    return out


def compare(old: Build, new: Build) -> dict:
    """The release notes from `old` to `new` as one JSON-ready dict."""
    a, b = recommendations(old), recommendations(new)
    changed = []
    for iri in sorted(set(a) & set(b)):
        diffs = {k: {"old": a[iri][k], "new": b[iri][k]} for k in FIELDS if a[iri][k] != b[iri][k]}
        if diffs:
            changed.append({"recommendation": iri, "changes": diffs})
    graphs = {}
    for iri in sorted(set(old.graphs) | set(new.graphs)):
        before, after = old.graphs.get(iri, set()), new.graphs.get(iri, set())
        graphs[iri] = {"added": sorted(after - before), "removed": sorted(before - after)}
    return {
        "from": _describe(old), "to": _describe(new),
        "sources": _source_changes(old.manifest, new.manifest),
        "recommendations": {
            "added": [{"recommendation": i, **b[i]} for i in sorted(set(b) - set(a))],
            "removed": [{"recommendation": i, **a[i]} for i in sorted(set(a) - set(b))],
            "changed": changed,
        },
        "graphs": graphs,
    }


def _describe(build: Build) -> dict:
    return {"name": build.name, "graph_version": build.version, "built": build.manifest.get("built", ""),
            "sources": build.manifest.get("sources", [])}


def _source_changes(old: dict, new: dict) -> list[dict]:
    """Files whose checksum or revision differs between the two manifests (added and removed ones too);
    nothing when a build has no manifest (one built before manifests, or a curator write's version)."""
    if not old.get("sources") or not new.get("sources"):
        return []
    def files(manifest):
        return {(s["id"], f["name"]): f for s in manifest.get("sources", []) for f in s.get("files", [])}
    a, b = files(old), files(new)
    out = []
    for key in sorted(set(a) | set(b)):
        fa, fb = a.get(key, {}), b.get(key, {})
        if fa.get("sha256") != fb.get("sha256") or fa.get("revised") != fb.get("revised"):
            out.append({"source": key[0], "file": fb.get("file") or fa.get("file"),
                        "old": {k: fa.get(k) for k in ("sha256", "revised") if fa.get(k)},
                        "new": {k: fb.get(k) for k in ("sha256", "revised") if fb.get(k)}})
    return out


def markdown(notes: dict) -> str:
    """The release notes for people."""
    def short(iri: str) -> str:
        return iri.rsplit("/", 1)[-1]
    f, t = notes["from"], notes["to"]
    lines = ["# Changes from %s to %s" % (f["graph_version"][:12] or f["name"], t["graph_version"][:12] or t["name"]), ""]
    lines.append("- from: `%s`%s" % (f["name"], ", built %s" % f["built"] if f["built"] else ""))
    lines.append("- to: `%s`%s" % (t["name"], ", built %s" % t["built"] if t["built"] else ""))
    for side in (f, t):
        if not side["sources"]:
            lines.append("- `%s` has no release manifest: its sources' files are not compared" % side["name"])
    if notes["sources"]:
        lines += ["", "## Sources", "", "| source | file | old | new |", "|---|---|---|---|"]
        for s in notes["sources"]:
            def cell(d):
                return " ".join(filter(None, [d.get("revised", ""), d.get("sha256", "")[:12]])) or "—"
            lines.append("| %s | %s | %s | %s |" % (s["source"], s["file"], cell(s["old"]), cell(s["new"])))
    recs = notes["recommendations"]
    lines += ["", "## Recommendations", ""]
    lines.append("%d added, %d removed, %d changed" % (len(recs["added"]), len(recs["removed"]), len(recs["changed"])))
    for title, key in (("Added", "added"), ("Removed", "removed")):
        if recs[key]:
            lines += ["", "### %s" % title, ""]
            for r in recs[key]:
                lines.append("- `%s` %s (%s): “%s”" % (short(r["recommendation"]), r["therapyLabel"], r["strength"], r["quote"]))
    if recs["changed"]:
        lines += ["", "### Changed", ""]
        for r in recs["changed"]:
            lines.append("- `%s`" % short(r["recommendation"]))
            for k, d in r["changes"].items():
                lines.append("  - %s: “%s” → “%s”" % (k, d["old"], d["new"]))
    lines += ["", "## Triples per named graph", "", "| graph | added | removed |", "|---|---:|---:|"]
    for iri, d in notes["graphs"].items():
        lines.append("| %s | %d | %d |" % (iri, len(d["added"]), len(d["removed"])))
    return "\n".join(lines) + "\n"
