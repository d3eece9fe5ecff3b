"""The treatment-pathway picture: the document's decision structure drawn as SVG from graph rows.

Pure: rows of the pathway query (one per recommendation and condition) in, an SVG document out;
no store, no Flask. The picture is a tree read left to right, one band per document section:

    situation (disease + status) -> the other conditions -> the option, coloured by its strength

Each recommendation is one leaf, so the tree has no crossing edges and the layout needs no
solver: leaves are stacked, parents are centred on their children. With a profile overlay the
options the finder returns are drawn bold (the path taken) and the others of the same
situations faded, and each condition is marked met (✓), open (?) or not met (✗).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

#: fill / stroke colours per strength label (Okabe-Ito based, readable on white; the strength is
#: always written in the node as well, so colour is never the only cue)
STRENGTH_COLOURS = {
    "advised": ("#d4efe3", "#00734d"),
    "usual": ("#d9ecf7", "#0061a0"),
    "often effective": ("#dff0f3", "#00778a"),
    "likely helpful": ("#e8e4f3", "#5b4b9a"),
    "option": ("#fdf0d5", "#a86400"),
    "not likely helpful": ("#f9dcdc", "#b3261e"),
}
FALLBACK_COLOURS = [("#eeeeee", "#555555"), ("#e6f2e0", "#3c7a1f"), ("#f3e3ef", "#8e3b78")]
SITUATION_FIELDS = ("disease", "status")
STATE_MARKS = {"met": "\u2713", "open": "?", "unmet": "\u2717", "outside": "\u2248"}  # outside: a usual bound missed, kept

FONT = 13          # px
LINE = 17          # px between text lines
CHAR_W = 7.4       # px, a generous average glyph width for the sans-serif fonts browsers pick
PAD = 8            # px inside boxes
GAP = 8            # px between sibling leaves
COLS = ((24, 230), (314, 300), (674, 262))   # (x, width) of situation, conditions, options
WIDTH = 960


@dataclass
class Option:
    recommendation: str
    order: int
    therapies: list[tuple[str, str, str]]   # (iri, label, brands)
    strength: str
    rank: int
    wording: str
    combined_with: list[str] = field(default_factory=list)
    conditions: list[tuple[int, str, str, str]] = field(default_factory=list)  # (order, iri, text, field)


def collect(rows: list[dict]) -> list[tuple[str, list[Option]]]:
    """Group pathway rows into sections (in document order) of options (in recommendation order).

    >>> rows = [{"recommendation": "r1", "order": 1, "section": "S", "sectionOrder": 1, "therapy": "t",
    ...          "therapyLabel": "x", "strength": "option", "strengthRank": 4, "wording": "might be",
    ...          "condition": "c1", "conditionOrder": 1, "conditionText": "if relapsed", "field": "status"}]
    >>> [(s, [o.therapies for o in opts]) for s, opts in collect(rows)]
    [('S', [[('t', 'x', '')]])]
    """
    sections: dict[tuple, dict[str, Option]] = {}
    for r in rows:
        key = (str(r.get("document", "")), int(r["sectionOrder"]), str(r["section"]))
        options = sections.setdefault(key, {})
        rec = str(r["recommendation"])
        opt = options.get(rec)
        if opt is None:
            opt = options[rec] = Option(rec, int(r["order"]), [], str(r["strength"]), int(r["strengthRank"]),
                                        str(r.get("wording", "")))
        therapy = (str(r["therapy"]), str(r["therapyLabel"]), str(r.get("brands") or ""))
        if therapy not in opt.therapies:
            opt.therapies.append(therapy)
        for c in [c for c in str(r.get("combinedWith") or "").split(" | ") if c]:
            if c not in opt.combined_with:
                opt.combined_with.append(c)
        if r.get("condition") is not None:
            cond = (int(r["conditionOrder"]), str(r["condition"]), str(r["conditionText"]), str(r.get("field") or ""))
            if cond not in opt.conditions:
                opt.conditions.append(cond)
    out = []
    for key in sorted(sections):
        opts = sorted(sections[key].values(), key=lambda o: o.order)
        for o in opts:
            o.conditions.sort()
        out.append((key[2], opts))
    return out


def strength_colours(strengths: list[tuple[str, int]]) -> dict[str, tuple[str, str]]:
    """Colours for every strength the graph defines (known labels first, then a fallback palette)."""
    out, spare = {}, list(FALLBACK_COLOURS)
    for label, _rank in sorted(strengths, key=lambda s: (s[1], s[0])):
        out[label] = STRENGTH_COLOURS.get(label) or (spare.pop(0) if spare else FALLBACK_COLOURS[0])
    return out


def _wrap(text: str, width_px: float, size: float = FONT, *, bold: bool = False) -> list[str]:
    chars = max(8, int((width_px - 2 * PAD) / (CHAR_W * size / FONT * (1.12 if bold else 1.0))))
    return textwrap.wrap(text, chars, break_on_hyphens=False) or [""]


@dataclass
class _Box:
    kind: str                  # situation | conditions | option
    lines: list[tuple[str, str]]   # (text, css class)
    col: int
    children: list = field(default_factory=list)
    option: Option | None = None
    state: str = "plain"       # plain | taken | faded
    y: float = 0.0
    h: float = 0.0
    tip: str = ""

    def height(self) -> float:
        return 2 * PAD + LINE * len(self.lines) - (LINE - FONT)


def _situation_lines(opt: Option, marks: dict) -> list[tuple[str, str]]:
    lines = []
    for _o, iri, text, fld in opt.conditions:
        if fld in SITUATION_FIELDS:
            prefix = (STATE_MARKS[marks[iri]] + " ") if iri in marks else ""
            lines += [(line, "t") for line in _wrap(prefix + text, COLS[0][1])]
    return lines or [("any situation", "t muted")]


def _condition_lines(opt: Option, marks: dict) -> list[tuple[str, str]]:
    lines = []
    for _o, iri, text, fld in opt.conditions:
        if fld in SITUATION_FIELDS:
            continue
        prefix = (STATE_MARKS[marks[iri]] + " ") if iri in marks else "\u2022 "
        for i, line in enumerate(_wrap(prefix + text, COLS[1][1])):
            lines.append(((line if i == 0 else "   " + line), "t"))
    return lines or [("no further condition", "t muted")]


def _option_lines(opt: Option) -> list[tuple[str, str]]:
    lines = []
    for _iri, label, brands in opt.therapies:
        name = label + (" (%s)" % brands.replace(" | ", ", ") if brands else "")
        lines += [(line, "t b") for line in _wrap(name, COLS[2][1], bold=True)]
    if opt.combined_with:
        lines += [(line, "t s") for line in _wrap("possibly with " + ", ".join(opt.combined_with), COLS[2][1], 11)]
    lines += [(line, "t s") for line in _wrap("%s: \u201c%s\u201d" % (opt.strength, opt.wording), COLS[2][1], 11)]
    return lines


def build_tree(sections, *, taken: set | None = None, states: dict | None = None):
    """Sections -> [(heading, [situation boxes])]; with a profile, only the situations it is in.

    `states` maps recommendation -> {condition iri: met|open|unmet} (the options query's answer);
    `taken` is the set of recommendations the finder returned.
    """
    profile = states is not None
    out = []
    for heading, options in sections:
        situations: dict[tuple, _Box] = {}
        for opt in options:
            marks = (states or {}).get(opt.recommendation, {})
            if profile:
                situation_marks = [marks.get(iri) for _o, iri, _t, f in opt.conditions if f in SITUATION_FIELDS]
                if "unmet" in situation_marks or opt.recommendation not in states:
                    continue
            s_lines = _situation_lines(opt, marks)
            s_key = tuple(s_lines)
            sit = situations.get(s_key)
            if sit is None:
                sit = situations[s_key] = _Box("situation", s_lines, 0)
            c_lines = _condition_lines(opt, marks)
            cond = next((c for c in sit.children if c.lines == c_lines), None)
            if cond is None:
                cond = _Box("conditions", c_lines, 1)
                sit.children.append(cond)
            leaf = _Box("option", _option_lines(opt), 2, option=opt)
            leaf.tip = "%s \u2014 %s: \u201c%s\u201d" % (" + ".join(t[1] for t in opt.therapies), opt.strength,
                                                        opt.wording)
            if profile:
                leaf.state = "taken" if opt.recommendation in (taken or set()) else "faded"
            cond.children.append(leaf)
        if situations:
            out.append((heading, list(situations.values())))
    if profile:
        for _h, sits in out:
            for sit in sits:
                for cond in sit.children:
                    cond.state = "taken" if any(c.state == "taken" for c in cond.children) else "faded"
                sit.state = "taken" if any(c.state == "taken" for c in sit.children) else "faded"
    return out


def _place(box: _Box, top: float) -> float:
    """Lay out a subtree from `top`; returns its height (leaves stacked, parents centred)."""
    box.h = box.height()
    if not box.children:
        box.y = top
        return box.h
    y = top
    for i, child in enumerate(box.children):
        if i:
            y += GAP
        y += _place(child, y)
    span = y - top
    if box.h > span:                       # a tall parent: push its children down to centre them
        shift = (box.h - span) / 2
        _shift(box.children, shift)
        span = box.h
    first, last = box.children[0], box.children[-1]
    box.y = (first.y + last.y + last.h) / 2 - box.h / 2
    return span


def _shift(boxes, dy: float) -> None:
    for b in boxes:
        b.y += dy
        _shift(b.children, dy)


def _text(x: float, y: float, lines, *, anchor: str = "start") -> str:
    parts = []
    for i, (line, cls) in enumerate(lines):
        parts.append('<text x="%.1f" y="%.1f" class=%s%s>%s</text>' % (
            x, y + i * LINE, quoteattr(cls), ' text-anchor="%s"' % anchor if anchor != "start" else "",
            escape(line)))
    return "".join(parts)


def _edge(parent: _Box, child: _Box, colour: str, state: str) -> str:
    x1 = COLS[parent.col][0] + COLS[parent.col][1]
    y1 = parent.y + parent.h / 2
    x2 = COLS[child.col][0]
    y2 = child.y + child.h / 2
    dx = (x2 - x1) / 2
    return ('<path class="edge %s" d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" stroke="%s"/>'
            % (state, x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2, colour))


def render(sections, strengths: list[tuple[str, int]], *, taken: set | None = None, states: dict | None = None,
           link=None, title: str = "Treatment pathway", subtitle: str = "") -> str:
    """The SVG document (a string, UTF-8 XML) for the collected sections.

    `link(iri)` gives the href of a therapy's page (None: no links).
    """
    colours = strength_colours(strengths)
    tree = build_tree(sections, taken=taken, states=states)
    profile = states is not None
    body: list[str] = []
    used = []
    for _h, sits in tree:
        for sit in sits:
            for cond in sit.children:
                for leaf in cond.children:
                    if leaf.option.strength not in used:
                        used.append(leaf.option.strength)
    legend_y = 76 if subtitle else 58
    legend = ['<g class="legend" transform="translate(24 %d)">' % legend_y,
              '<text x="0" y="0" class="t b">Strength, as the document words it:</text>']
    lx, ly = 0, 12
    for label, _rank in sorted(strengths, key=lambda s: (s[1], s[0])):
        if label not in used:
            continue
        fill, stroke = colours[label]
        w = 26 + len(label) * CHAR_W
        if lx + w > WIDTH - 48:
            lx, ly = 0, ly + 24
        legend.append('<rect x="%.1f" y="%d" width="18" height="14" rx="3" fill="%s" stroke="%s" stroke-width="2"/>'
                      '<text x="%.1f" y="%d" class="t">%s</text>' % (lx, ly, fill, stroke, lx + 24, ly + 12,
                                                                    escape(label)))
        lx += w + 18
    ly += 24
    if profile:
        legend.append('<rect x="0" y="%d" width="18" height="14" rx="3" fill="#fff" stroke="#111" stroke-width="3.5"/>'
                      '<text x="24" y="%d" class="t">on the path for this profile (the options found)</text>'
                      % (ly, ly + 12))
        legend.append('<rect x="430" y="%d" width="18" height="14" rx="3" fill="#fff" stroke="#999" '
                      'stroke-dasharray="3 2" opacity="0.6"/><text x="454" y="%d" class="t">'
                      'not for this profile (\u2717 a condition is not met)</text>' % (ly, ly + 12))
        ly += 20
        legend.append('<text x="0" y="%d" class="t s">\u2713 met by the profile \u00b7 ? not settled by the '
                      'profile (for the care team) \u00b7 \u2717 not met</text>' % (ly + 12))
        ly += 20
    legend.append("</g>")
    y = legend_y + ly + 30
    heads = [(COLS[0], "Situation"), (COLS[1], "Conditions"), (COLS[2], "Option")]
    body.append("".join('<text x="%.1f" y="%.1f" class="t h">%s</text>' % (c[0], y, t) for c, t in heads))
    y += 14
    if not tree:
        body.append('<text x="24" y="%.1f" class="t">The document names no option for this situation.</text>'
                    % (y + 24))
        y += 48
    for heading, sits in tree:
        band_top = y
        y += 30
        content: list[str] = []
        for i, sit in enumerate(sits):
            if i:
                y += GAP * 2
            y += _place(sit, y)
            for cond in sit.children:
                content.append(_edge(sit, cond, "#8a8a8a", cond.state))
                for leaf in cond.children:
                    content.append(_edge(cond, leaf, colours[leaf.option.strength][1], leaf.state))
            content.extend(_boxes(sit, colours, link))
        y += 14
        body.append('<g class="section"><rect class="band" x="8" y="%.1f" width="%d" height="%.1f" rx="6"/>'
                    '<text x="20" y="%.1f" class="t sec">%s</text>%s</g>'
                    % (band_top, WIDTH - 16, y - band_top, band_top + 21, escape(heading), "".join(content)))
        y += 12
    height = int(y + 16)
    # role=group, not img: the picture holds links (to entity pages), and an img has no interactive parts (axe: nested-interactive)
    desc = ("Decision structure of the source document, generated from the knowledge graph: situations, "
            "their conditions and the options the document names, coloured by strength. Options shown: %s."
            % ", ".join(sorted({t[1] for _h, sits in tree for s in sits for c in s.children for leaf in c.children
                                for t in leaf.option.therapies})))
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
            'width="%d" height="%d" viewBox="0 0 %d %d" role="group" aria-labelledby="pw-title pw-desc" '
            'class="pathway">' % (WIDTH, height, WIDTH, height),
            '<title id="pw-title">%s</title><desc id="pw-desc">%s</desc>' % (escape(title), escape(desc)),
            "<style>%s</style>" % _CSS,
            '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (WIDTH, height),
            '<text x="24" y="30" class="t title">%s</text>' % escape(title))
    if subtitle:
        head += ('<text x="24" y="48" class="t s">%s</text>' % escape(subtitle),)
    return "".join(head) + "".join(legend) + "".join(body) + "</svg>\n"


def _boxes(box: _Box, colours, link) -> list[str]:
    out = []
    x, w = COLS[box.col]
    if box.kind == "option":
        fill, stroke = colours[box.option.strength]
    elif box.kind == "situation":
        fill, stroke = "#eef1f6", "#4a5873"
    else:
        fill, stroke = "#ffffff", "#8a8a8a"
    rect = ('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" rx="5" fill="%s" stroke="%s"/>'
            % (x, box.y, w, box.h, fill, stroke))
    text = _text(x + PAD, box.y + PAD + FONT - 2, box.lines)
    cls = "node %s %s" % (box.kind, box.state)
    if box.kind == "option":
        opt = box.option
        href = link(opt.therapies[0][0]) if link else None
        inner = "<title>%s</title>%s%s" % (escape(box.tip), rect, text)
        attrs = ' data-recommendation=%s data-strength=%s' % (quoteattr(opt.recommendation), quoteattr(opt.strength))
        if href:
            out.append('<a href=%s xlink:href=%s class=%s%s>%s</a>' % (quoteattr(href), quoteattr(href),
                                                                      quoteattr(cls), attrs, inner))
        else:
            out.append('<g class=%s%s>%s</g>' % (quoteattr(cls), attrs, inner))
    else:
        out.append('<g class=%s>%s%s</g>' % (quoteattr(cls), rect, text))
    for child in box.children:
        out.extend(_boxes(child, colours, link))
    return out


_CSS = (
    ".t{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;font-size:13px;fill:#1a1a1a}"
    ".t.b{font-weight:bold}.t.s{font-size:11px;fill:#333}.t.muted{fill:#666;font-style:italic}"
    ".t.h{font-size:12px;font-weight:bold;fill:#444;text-transform:uppercase;letter-spacing:.05em}"
    ".t.title{font-size:18px;font-weight:bold}.t.sec{font-size:14px;font-weight:bold;fill:#23304a}"
    ".band{fill:#f7f8fb;stroke:#dde1ea}"
    ".edge{fill:none;stroke-width:2}.edge.taken{stroke-width:4}.edge.faded{opacity:.35;stroke-dasharray:5 4}"
    ".node rect{stroke-width:1.5}.node.option rect{stroke-width:2.5}"
    ".node.taken rect{stroke-width:4}.node.faded{opacity:.45}.node.faded rect{stroke-dasharray:4 3}"
    "a.node:hover rect,a.node:focus rect{stroke-width:4}"
)
