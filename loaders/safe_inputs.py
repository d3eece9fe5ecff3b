"""What the build may read: only the files `sources.yaml` names, inside the project, of bounded size and
of safe content. Each refusal is a `BuildError`-ready ValueError naming the source, file and rule.

- A source file's path is relative to `sources.yaml` and must resolve, symlinks followed, to a file
  inside the project (`ontology/`'s ``../ontology/amlkg.owl`` does; ``../../etc/passwd``,
  ``/etc/passwd`` and a symlink pointing out do not).
- A loader is a module of the `loaders` package (a registry entry cannot make the build import and run
  arbitrary code), and a graph IRI lies under the project's graph base, never the build's own
  ``meta``/``inferred`` graphs or the curators' graph.
- A file is at most ``KG_BUILD_MAX_SOURCE_BYTES`` (default 50 MB): a huge file fails fast instead of
  filling memory.
- Content: RDF/XML and OWL files go through `loaders.safe_xml.check_xml` (and are parsed with its
  defused parser by their loader); YAML files must not use anchors or aliases (the YAML form of
  "billion laughs": a few hundred bytes that expand to gigabytes when walked).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from kg_service.store import GRAPH_BASE, META_GRAPH
from kg_service.store.versions import CURATOR_GRAPH
from kg_service.vocab import INFERRED_GRAPH

from .safe_xml import UnsafeXML, check_xml

DEFAULT_MAX_SOURCE_BYTES = 50_000_000
#: graphs only the build itself (or the curator route) writes
RESERVED_GRAPHS = frozenset((META_GRAPH, str(INFERRED_GRAPH), CURATOR_GRAPH))
XML_SUFFIXES = (".owl", ".rdf", ".xml")
YAML_SUFFIXES = (".yaml", ".yml")
_LOADER = re.compile(r"^loaders\.[A-Za-z_][A-Za-z0-9_]*$")


class UnsafeInput(ValueError):
    """A source entry or file breaks one of the build's input rules."""


def max_source_bytes() -> int:
    raw = os.environ.get("KG_BUILD_MAX_SOURCE_BYTES", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_MAX_SOURCE_BYTES
    except ValueError:
        raise UnsafeInput("KG_BUILD_MAX_SOURCE_BYTES=%r is not a whole number of bytes" % raw) from None


def source_path(spec: str, registry: Path, project: Path, where: str) -> Path:
    """The file a registry entry names, checked to lie inside `project`.

    >>> p = Path(__file__).resolve().parent
    >>> source_path("../ontology/amlkg.owl", p / "sources.yaml", p.parent, "ontology").name
    'amlkg.owl'
    >>> source_path("../../etc/passwd", p / "sources.yaml", p.parent, "x")
    Traceback (most recent call last):
    ...
    loaders.safe_inputs.UnsafeInput: x: ../../etc/passwd resolves outside the project (...)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UnsafeInput("%s: a file path must be a non-empty string" % where)
    if "\x00" in spec:
        raise UnsafeInput("%s: a file path must not contain NUL" % where)
    if os.path.isabs(spec) or spec.startswith("~"):
        raise UnsafeInput("%s: %s is an absolute path; source paths are relative to %s"
                          % (where, spec, registry.name))
    project = project.resolve()
    resolved = (registry.parent / spec).resolve()
    if not resolved.is_relative_to(project):
        raise UnsafeInput("%s: %s resolves outside the project (...)" % (where, spec))
    return resolved


def check_entry(entry: dict, where: str) -> None:
    """The registry entry's loader and graph are ones the build may use."""
    loader = entry.get("loader")
    if not isinstance(loader, str) or not _LOADER.match(loader):
        raise UnsafeInput("%s: loader %r is not a module of the loaders package (loaders.<name>)" % (where, loader))
    graph = entry.get("graph")
    if not isinstance(graph, str) or not graph.startswith(GRAPH_BASE) or graph in RESERVED_GRAPHS \
            or not re.fullmatch(r"[A-Za-z0-9._~/-]+", graph[len(GRAPH_BASE):]):
        raise UnsafeInput("%s: graph %r must be an IRI under %s (not %s)"
                          % (where, graph, GRAPH_BASE, ", ".join(sorted(g[len(GRAPH_BASE):] for g in RESERVED_GRAPHS))))


def check_file(path: Path, where: str) -> None:
    """Size and content rules for one source file (raises UnsafeInput)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UnsafeInput("%s: %s cannot be read (%s)" % (where, path.name, e.strerror)) from None
    if not path.is_file():
        raise UnsafeInput("%s: %s is not a regular file" % (where, path.name))
    limit = max_source_bytes()
    if size > limit:
        raise UnsafeInput("%s: %s is %d bytes; source files may be at most %d (KG_BUILD_MAX_SOURCE_BYTES)"
                          % (where, path.name, size, limit))
    suffix = path.suffix.lower()
    if suffix in XML_SUFFIXES:
        try:
            check_xml(path.read_bytes(), "%s: %s" % (where, path.name))
        except UnsafeXML as e:
            raise UnsafeInput(str(e)) from None
    elif suffix in YAML_SUFFIXES:
        check_yaml(path.read_bytes(), "%s: %s" % (where, path.name))


def check_yaml(data: bytes, name: str, max_nodes: int = 1_000_000) -> None:
    """Refuse YAML whose anchors and aliases would expand past `max_nodes` nodes when walked (the YAML
    form of "billion laughs": a few hundred bytes of nested aliases that become gigabytes).

    >>> check_yaml(b"q: &quote text\\na: [*quote, *quote]", "ok.yaml")
    >>> bomb = b"a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + b"".join(
    ...     b"%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\\n" % ((chr(98 + i).encode(),) * 2
    ...     + (chr(97 + i).encode(),) * 10) for i in range(8))
    >>> check_yaml(bomb, "bomb.yaml")
    Traceback (most recent call last):
    ...
    loaders.safe_inputs.UnsafeInput: bomb.yaml: YAML aliases would expand to more than 1000000 nodes
    """
    try:
        root = yaml.compose(data, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise UnsafeInput("%s: not valid YAML: %s" % (name, e)) from None
    sizes: dict[int, int] = {}

    def size(node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = max_nodes + 1  # a node reached again while being measured: a cycle
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > max_nodes:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key) + size(value)
                if total > max_nodes:
                    break
        sizes[id(node)] = total
        return total

    if root is not None and size(root) > max_nodes:
        raise UnsafeInput("%s: YAML aliases would expand to more than %d nodes" % (name, max_nodes))
