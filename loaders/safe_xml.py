"""Refuse XML that could reach outside the file or expand without bound, before rdflib parses it.

Protégé writes an internal DTD of simple entities (`<!ENTITY owl "http://…#">`); those are allowed.
External entities (SYSTEM/PUBLIC), parameter entities and entities that refer to other entities
(the "billion laughs" shape) are refused.
"""
from __future__ import annotations

import re

_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[(?P<subset>.*?)\])?\s*>", re.S)
_DECL = re.compile(rb"<!(?P<kind>ENTITY|ELEMENT|ATTLIST|NOTATION)\b(?P<body>[^>]*)>", re.S)
_SIMPLE_ENTITY = re.compile(rb'^\s+(?P<name>[A-Za-z_][\w.-]*)\s+(?P<q>["\'])(?P<value>[^"\'&%<]*)(?P=q)\s*$', re.S)


class UnsafeXML(ValueError):
    """The document uses an XML feature the build does not allow."""


def check_xml(data: bytes, name: str = "input") -> None:
    """Raise UnsafeXML unless every entity in `data` is a simple internal text entity.

    >>> check_xml(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY owl "http://www.w3.org/2002/07/owl#">]><r/>')
    >>> check_xml(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    Traceback (most recent call last):
    ...
    loaders.safe_xml.UnsafeXML: input: entity declaration not allowed: <!ENTITY x SYSTEM "file:///etc/passwd">
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
    for decl in _DECL.finditer(subset):
        if decl.group("kind") != b"ENTITY" or not _SIMPLE_ENTITY.match(decl.group("body")):
            raise UnsafeXML("%s: entity declaration not allowed: %s"
                            % (name, decl.group(0).decode("utf-8", "replace")[:200]))
    rest = _DECL.sub(b"", subset)
    if rest.strip() and not re.fullmatch(rb"(\s|<!--.*?-->)*", rest, re.S):
        raise UnsafeXML("%s: unsupported DTD content" % name)
    if data.count(b"<!DOCTYPE") > 1 or b"<!ENTITY" in data[m.end():]:
        raise UnsafeXML("%s: entity declarations outside the DTD" % name)
