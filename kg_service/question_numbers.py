"""Numbers in questions: remission lengths and ages, as numbers, bounds or ranges.

Part of the question parser (`kg_service.question`); only grammar lives here (number words, units,
bound words), no clinical name. Values use the profile notation of the contract: a number, a bound
`<12`, `<=6`, `>12`, `>=24`, or a range `6-12`.

How words become bounds (issue 16): "within / less than / under / sooner than / before N" are upper
bounds (`<N`), "at most / no more than / up to N" and "N or less" `<=N`, "more than / over / longer
than N" lower bounds (`>N`), "at least / after N" and "N or more" `>=N`; "about N" is `~N` (the
profile gives it its tolerance, `options.about_tolerance`). A duration followed by "ago" is the time
since an event, never the length of a remission: it is read, reported and left out of the profile.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-four": 24,
    "twenty four": 24, "thirty": 30, "thirty-six": 36, "half a": 0.5, "a half": 0.5,
}
DECADES = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
           "eighties": 80, "nineties": 90}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: ages in words ("sixty-two", "seventy"), 20 to 99
AGE_WORDS = {**_TENS, **{"%s%s%s" % (t, sep, u): n + i + 1 for t, n in _TENS.items() for i, u in enumerate(_UNITS)
                         for sep in ("-", " ")}}
NUMBER_WORDS.update(AGE_WORDS)
_WORD = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
_AGE_NUM = r"(\d{1,3}|%s)" % "|".join(sorted((re.escape(w) for w in AGE_WORDS), key=len, reverse=True))
NUM = r"(?:\d+(?:\.\d+)?|(?:%s)(?=[\s-]))(?:\s+and\s+a\s+half)?" % _WORD
UNIT = r"(?:months?|mos?|mths?|m|years?|yrs?|y|weeks?|wks?)"
#: bound words before a number -> how the number bounds the value
BOUND_BEFORE = {
    "less than": "<", "fewer than": "<", "under": "<", "in under": "<", "sooner than": "<", "shorter than": "<",
    "earlier than": "<", "before": "<", "within": "<", "within about": "<", "inside": "<", "in less than": "<",
    "inside of": "<", "<": "<",
    "up to": "<=", "at most": "<=", "no more than": "<=", "no longer than": "<=", "not more than": "<=",
    "<=": "<=",
    "more than": ">", "over": ">", "longer than": ">", "later than": ">", "beyond": ">", "greater than": ">",
    "above": ">", "older than": ">", ">": ">",
    "at least": ">=", "after": ">=", "after at least": ">=", ">=": ">=", "no less than": ">=",
    "about": "~", "around": "~", "approximately": "~", "approx": "~", "roughly": "~", "some": "~", "~": "~",
    "nearly": "~", "almost": "~", "circa": "~", "exactly": "=", "precisely": "=", "just": "=",
}
BOUND_AFTER = {"or more": ">=", "or longer": ">=", "or later": ">=", "or over": ">=", "plus": ">=", "+": ">=",
               "or less": "<=", "or fewer": "<=", "or shorter": "<=", "or sooner": "<=", "or under": "<=",
               "or so": "~", "or older": ">=", "or younger": "<=", "or above": ">="}
AGE_BOUND_BEFORE = {"over": ">", "above": ">", "older than": ">", "more than": ">", "under": "<", "below": "<",
                    "younger than": "<", "less than": "<", "at least": ">=", "at most": "<="}
_B = "|".join(sorted((re.escape(w) for w in BOUND_BEFORE), key=len, reverse=True))
_A = "|".join(sorted((re.escape(w) for w in BOUND_AFTER), key=len, reverse=True))
_AB = "|".join(sorted((re.escape(w) for w in AGE_BOUND_BEFORE), key=len, reverse=True))

RANGE = re.compile(r"\b(?:between\s+)?(%s)\s*(?:-|to|and)\s*(%s)[\s-]*(%s)\b" % (NUM, NUM, UNIT))
DURATION = re.compile(r"(?:(?<![a-z])(%s)\s*)?\b(%s)[\s-]*(%s)\b(\s+and\s+a\s+half\b)?(?:\s*(%s)(?![a-z]))?(\s+ago\b)?"
                      % (_B, NUM, UNIT, _A))
FIRST = re.compile(r"\b(?:within|in|during|inside)\s+(?:the\s+)?first\s+(?:(%s)[\s-]*)?(%s)\b" % (NUM, UNIT))
SINCE = re.compile(r"\b(?:last|this|past)\s+(?:month|year|week)\b")
AGES = (
    # "50 year old", "45-year-old", "a 50 yr old"; with an optional bound after ("60 years or older")
    re.compile(r"\b(\d{1,3})[\s-]*(?:years?|yrs?|y)[\s-]*(?:of\s+age|olds?)\b(?:\s*(%s)(?![a-z]))?" % _A),
    re.compile(r"\b(\d{1,3})\s*(?:yo|y/o|y\.o\.)(?![a-z])"),
    re.compile(r"\b(\d{1,3})\s?(?:m|f)\b(?=\s*[,;:.]|\s+with|\s*$)"),
    re.compile(r"\b(?:aged?|age of|age is|age:)\s*:?\s*(\d{1,3})\b(?:\s*(%s)(?![a-z]))?" % _A),
    re.compile(r"\b(?:i am|i'm|im|is|he's|she's|who is|patient is|aged?)\s+%s\b(?![\s-]*(?:%s|%%|x)\b)"
               % (_AGE_NUM, UNIT)),
)
AGE_BOUND = re.compile(r"(?<![a-z])(%s)\s+(\d{1,3})\b(?!\s*(?:%s)\b)(?:[\s-]*(?:years?|yrs?)(?:[\s-]*old)?)?"
                       % (_AB, UNIT))
AGE_OR = re.compile(r"\b(\d{1,3})\s*(?:years?\s*)?(or older|or over|or above|or younger)(?![a-z])"
                    r"|\b(\d{2,3})(\+)(?![\w+])")
AGE_DECADE = re.compile(r"\bin\s+(?:his|her|their|my|the|your|our)?\s*(early|mid|late)?[\s-]*(?:(%s)|(\d)0'?s)\b"
                        % "|".join(DECADES))


@dataclass
class Number:
    field: str           # remission_months | age | since (time since an event: not in the profile)
    value: object        # int, float or a bound/range string
    start: int
    end: int
    via: str


def number(text: str) -> float:
    """A number written in digits or words ("one and a half" is 1.5)."""
    text = " ".join(text.split())
    half = text.endswith(" and a half")
    if half:
        text = text[: -len(" and a half")]
    n = NUMBER_WORDS[text] if text in NUMBER_WORDS else float(text)
    return n + 0.5 if half else n


def months(n: float, unit: str) -> float:
    """A duration in months (a year is 12 months, a week 12/52 of a month)."""
    if unit.startswith("y"):
        return n * 12
    if unit.startswith("w"):
        return round(n * 12 / 52, 1)
    return n


def tidy(n: float):
    """An int when whole, else one decimal place."""
    return int(n) if float(n).is_integer() else round(float(n), 1)


def bounded(op: str | None, n: float):
    """A value in the profile notation for a bound operator (None: the number itself).

    >>> bounded("<", 12), bounded(">=", 24), bounded(None, 8), bounded("~", 6)
    ('<12', '>=24', 8, '~6')
    """
    if op in (None, "", "="):
        return tidy(n)
    return "%s%s" % (op, tidy(n))


def read_numbers(text: str) -> list[Number]:
    """Ages and remission lengths in `text` (lower case, plain), earliest claim first, no overlaps.

    >>> [(n.field, n.value) for n in read_numbers("relapsed 10 months ago, remission lasted 3 years")]
    [('since', 10), ('remission_months', 36)]
    >>> [(n.field, n.value) for n in read_numbers("a 45-year-old, came back within a year")]
    [('age', 45), ('remission_months', '<12')]
    >>> [(n.field, n.value) for n in read_numbers("in her seventies, over 60, remission about 2 years")]
    [('age', '70-79'), ('age', '>60'), ('remission_months', '~24')]
    """
    found: list[Number] = []
    taken: list[tuple[int, int]] = []

    def free(a, b):
        return not any(a < e and b > s for s, e in taken)

    def add(field, value, a, b, via):
        if free(a, b):
            taken.append((a, b))
            found.append(Number(field, value, a, b, via))

    for pattern in AGES:
        for m in pattern.finditer(text):
            n = int(number(m.group(1)))
            if 0 < n <= 130 or pattern is AGES[0]:
                after = BOUND_AFTER.get(m.group(2)) if m.lastindex and m.lastindex >= 2 and m.group(2) else None
                add("age", bounded(after, n), m.start(), m.end(), "age")
    for m in AGE_DECADE.finditer(text):
        base = DECADES[m.group(2)] if m.group(2) else int(m.group(3)) * 10
        low, high = {"early": (0, 3), "mid": (4, 6), "late": (7, 9)}.get(m.group(1) or "", (0, 9))
        add("age", "%d-%d" % (base + low, base + high), m.start(), m.end(), "age, a decade of life")
    for m in AGE_OR.finditer(text):
        n, op = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        add("age", bounded(BOUND_AFTER[op], int(n)), m.start(), m.end(), "age bound")
    for m in SINCE.finditer(text):
        add("since", 0, m.start(), m.end(), "time since an event, not the length of a remission")
    for m in FIRST.finditer(text):
        value = months(number(m.group(1)) if m.group(1) else 1, m.group(2))
        add("remission_months", bounded("<", value), m.start(), m.end(),
            "remission shorter than %s months" % tidy(value))
    for m in RANGE.finditer(text):
        low, high, unit = number(m.group(1)), number(m.group(2)), m.group(3)
        if high > low:
            add("remission_months", "%s-%s" % (tidy(months(low, unit)), tidy(months(high, unit))),
                m.start(), m.end(), "remission between %s and %s %s" % (tidy(low), tidy(high), unit))
    for m in DURATION.finditer(text):
        before, n, unit, half, after, ago = m.groups()
        if unit == "m" and not re.match(r"\d", n):
            continue
        value = months(number(n) + (0.5 if half else 0), unit)
        if ago:
            add("since", tidy(value), m.start(), m.end(), "time since an event, not the length of a remission")
            continue
        op = BOUND_BEFORE.get(" ".join(before.split())) if before else None
        if after and (op is None or op == "~"):
            op = BOUND_AFTER[after]
        add("remission_months", bounded(op, value), m.start(), m.end(),
            "remission %s %s months" % ({"<": "shorter than", "<=": "at most", ">": "longer than", ">=": "at least",
                                        "~": "of about"}.get(op, "of"), tidy(value)))
    for m in AGE_BOUND.finditer(text):
        n = int(m.group(2))
        if 0 < n <= 130:
            add("age", bounded(AGE_BOUND_BEFORE[" ".join(m.group(1).split())], n), m.start(), m.end(), "age bound")
    found.sort(key=lambda x: x.start)
    return found
