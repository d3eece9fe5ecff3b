"""RDF/XML and OWL input parsed so that it can neither reach outside the file nor expand without bound.

Two layers, each sufficient for the attacks it names:

1. `check_xml` reads the raw bytes before any parser does. Protégé writes an internal DTD of simple
   entities (``<!ENTITY owl "http://…#">``); those are allowed, each at most `MAX_ENTITY_VALUE`
   characters, and all references together may add at most `MAX_EXPANSION` characters (the
   "quadratic blowup" of one long entity referenced many times). External DTDs and entities
   (``SYSTEM``/``PUBLIC``: file reads, network fetches), parameter entities, and entities that refer
   to other entities (the "billion laughs" shape) are refused.
2. `parse_rdfxml` hands rdflib's RDF/XML handler a defusedxml SAX parser that refuses, during the
   parse itself, any entity declaration other than such a simple one, and any external reference.
   (expat 2.4+ also stops amplification attacks on its own; that is a third layer, not relied on.)

Every refusal is `UnsafeXML` (a ValueError) naming the file, so the build stops with that message
before anything is written to the store.
"""
from __future__ import annotations

import re

#: longest replacement text of one internal entity, characters
MAX_ENTITY_VALUE = 2048
#: most characters all entity references of a document may add by expansion
MAX_EXPANSION = 1_000_000

_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[(?P<subset>.*?)\])?\s*>", re.S)
_DECL = re.compile(rb"<!(?P<kind>ENTITY|ELEMENT|ATTLIST|NOTATION)\b(?P<body>[^>]*)>", re.S)
_SIMPLE_ENTITY = re.compile(rb'^\s+(?P<name>[A-Za-z_][\w.-]*)\s+(?P<q>["\'])(?P<value>[^"\'&%<]*)(?P=q)\s*$', re.S)


class UnsafeXML(ValueError):
    """The document uses an XML feature the build does not allow."""


def check_xml(data: bytes, name: str = "input") -> None:
    """Raise UnsafeXML unless every entity in `data` is a simple internal text entity of bounded use.

    >>> check_xml(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY owl "http://www.w3.org/2002/07/owl#">]><r/>')
    >>> check_xml(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    Traceback (most recent call last):
    ...
    loaders.safe_xml.UnsafeXML: input: entity declaration not allowed: <!ENTITY x SYSTEM "file:///etc/passwd">
    >>> check_xml(b'<!DOCTYPE r [<!ENTITY a "' + b"x" * 1000 + b'">]><r>' + b"&a;" * 2000 + b'</r>')
    Traceback (most recent call last):
    ...
    loaders.safe_xml.UnsafeXML: input: entity references would expand to 2000000 characters (at most 1000000)
    """
    head = data[:1_000_000]
    if b"<!DOCTYPE" not in head and b"<!ENTITY" not in data:
        return
    m = _DOCTYPE.search(data)
    if m is None:
        raise UnsafeXML("%s: malformed or unsupported DOCTYPE" % name)
    if re.search(rb"\b(SYSTEM|PUBLIC)\b", data[m.start():m.start() + len(m.group(0)) - len(m.group("subset") or b"")]):
        raise UnsafeXML("%s: external DTD not allowed" % name)
    subset = m.group("subset") or b""
    values: dict[bytes, int] = {}
    for decl in _DECL.finditer(subset):
        simple = _SIMPLE_ENTITY.match(decl.group("body")) if decl.group("kind") == b"ENTITY" else None
        if simple is None:
            raise UnsafeXML("%s: entity declaration not allowed: %s"
                            % (name, decl.group(0).decode("utf-8", "replace")[:200]))
        if len(simple.group("value")) > MAX_ENTITY_VALUE:
            raise UnsafeXML("%s: entity %s is %d characters long (at most %d)" % (
                name, simple.group("name").decode("utf-8", "replace"), len(simple.group("value")),
                MAX_ENTITY_VALUE))
        values[simple.group("name")] = len(simple.group("value"))
    rest = _DECL.sub(b"", subset)
    if rest.strip() and not re.fullmatch(rb"(\s|<!--.*?-->)*", rest, re.S):
        raise UnsafeXML("%s: unsupported DTD content" % name)
    if data.count(b"<!DOCTYPE") > 1 or b"<!ENTITY" in data[m.end():]:
        raise UnsafeXML("%s: entity declarations outside the DTD" % name)
    body = data[m.end():]
    expansion = 0
    for ref in re.finditer(rb"&([A-Za-z_][\w.-]*);", body):
        expansion += values.get(ref.group(1), 0)
    if expansion > MAX_EXPANSION:
        raise UnsafeXML("%s: entity references would expand to %d characters (at most %d)"
                        % (name, expansion, MAX_EXPANSION))


def _safe_sax_parser(name: str):
    """A SAX parser (defusedxml's expat driver) that allows only simple internal entities."""
    from defusedxml.common import DefusedXmlException
    from defusedxml.expatreader import DefusedExpatParser

    class _Parser(DefusedExpatParser):
        def __init__(self):
            super().__init__(forbid_dtd=False, forbid_entities=True, forbid_external=True)
            self.expansion_budget = MAX_EXPANSION

        def defused_entity_decl(self, ent_name, is_parameter_entity, value, base, sysid, pubid, notation_name):
            if (is_parameter_entity or value is None or sysid or pubid or notation_name
                    or "&" in value or "%" in value or "<" in value or len(value) > MAX_ENTITY_VALUE):
                raise UnsafeXML("%s: entity declaration not allowed: %s" % (name, ent_name))
            # a simple internal entity: expat records and expands it (bounded by check_xml)

        def defused_external_entity_ref_handler(self, context, base, sysid, pubid):
            raise UnsafeXML("%s: external entity reference not allowed: %s" % (name, sysid or pubid))

    _Parser.DefusedXmlException = DefusedXmlException
    return _Parser()


def parse_rdfxml(data: bytes, name: str, public_id: str | None = None):
    """Parse RDF/XML `data` into an rdflib Graph, after `check_xml` and with a defused parser.

    >>> g = parse_rdfxml(b'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY ex "urn:ex:">]>'
    ...     b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    ...     b'<rdf:Description rdf:about="&ex;a"><rdf:type rdf:resource="&ex;B"/></rdf:Description></rdf:RDF>', "t.owl")
    >>> sorted(str(o) for o in g.objects())
    ['urn:ex:B']
    """
    import rdflib
    from defusedxml.common import DefusedXmlException
    from rdflib.parser import create_input_source
    from rdflib.plugins.parsers.rdfxml import ErrorHandler, RDFXMLHandler
    from xml.sax import SAXException, handler

    check_xml(data, name)
    graph = rdflib.Graph()
    source = create_input_source(data=data, publicID=public_id, format="xml")
    parser = _safe_sax_parser(name)
    parser.setFeature(handler.feature_namespaces, 1)
    parser.setFeature(handler.feature_external_ges, False)
    parser.setFeature(handler.feature_external_pes, False)
    content = RDFXMLHandler(graph)
    content.setDocumentLocator(source)
    parser.setContentHandler(content)
    parser.setErrorHandler(ErrorHandler())
    try:
        parser.parse(source)
    except UnsafeXML:
        raise
    except DefusedXmlException as e:
        raise UnsafeXML("%s: %s" % (name, e)) from None
    except SAXException as e:
        raise ValueError("%s: not valid RDF/XML: %s" % (name, e)) from None
    return graph
