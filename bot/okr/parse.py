"""Reading a key result sentence ("Grow MRR from $50k to $120k by Q3") into a proposal.

The parser only proposes: the person confirms every field in a form. So it returns None
rather than guess when a sentence is vague, and leaves the baseline (start) empty unless the
sentence says "from X to Y".

How a sentence is read, in order:
1. Normalize: collapse whitespace, drop a list marker ("1.", "-", "KR2:"), drop Slack tokens
   (<!channel>, <@U123>) and unescape &lt; &gt; &amp;.
2. Take out one due-date clause (`_DUE_RULES`). Hours, minutes, seconds and fewer than 7 days
   are not deadlines but part of the metric ("resolved within 24 hours").
3. Read the leading verb (`_VERBS`): it says the direction (reduce → decrease, keep → threshold,
   ship → milestone...).
4. Find the numbers (digits, "1.5k", "$2M", "30%", "one million") with their units, and stand
   each in for a placeholder so that the sentence patterns stay short.
5. Try the sentence patterns (`_PATTERNS`) in order; the first that fits decides the target,
   the start, the metric and any comparison ("9 or higher").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum

from dateutil.parser import parserinfo
from dateutil.relativedelta import relativedelta

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.limits import KR_TITLE_MAX, UNIT_LABEL_MAX, VALUE_MAX_ABS
from bot.okr.numbers import CURRENCY_SYMBOLS, CURRENCY_WORDS, NUMBER_WORDS, parse_number


@dataclass(frozen=True)
class KRProposal:
    """A key result read from a sentence, for the person to confirm."""

    kind: KRKind
    title: str  # the sentence, whitespace-normalized
    metric: str | None  # what is measured: "active users", "latency"
    due: date | None
    unit: UnitKind = UnitKind.NUMBER
    unit_label: str | None = None  # "active users", "ms", "USD"; None for percent
    start: float | None = None  # None: not stated, a baseline the person fills in
    target: float | None = None  # None only when relative_change is set and there is no baseline
    relative_change: float | None = None  # +0.30 for "by 30%"; target = start * (1 + change)


def parse_key_result(text: str, *, today: date) -> KRProposal | None:
    """Read one key result sentence; None when it is too vague to propose anything."""
    if not isinstance(text, str):
        return None
    title = _LIST_MARKER_RE.sub("", " ".join(text.split()))
    if not title or len(title) > KR_TITLE_MAX:
        return None
    work = _slack_to_plain(title)
    due, work = _extract_due(work, today)
    work = _LEAD_IN_RE.sub("", work.strip(" ,;:.!?")).strip(" ,;:.!?")
    verb, rest = _split_verb(work)
    # "Python 3.12", "SOC 2": a number right after a name is part of the name.
    tokens = [t for t in _find_numbers(rest) if not _is_name_number(rest, t)]
    if verb is not None and verb.kind is _Dir.DELIVER and not tokens:
        return _milestone(title, rest, due)
    if verb is not None and verb.multiplier is not None and not tokens:
        return _multiplied(title, verb, rest, due)
    if not tokens:
        return None
    template = _template(rest, tokens)
    for pattern in _PATTERNS:
        match = pattern.regex.search(template)
        if match is None:
            continue
        reading = pattern.read(match, tokens, verb)
        if reading is None:
            return None
        # A number left in the metric means this pattern picked the wrong one: "90% of tickets
        # in under 24 hours" is not "under 24 hours".
        if reading is _SKIP or _restore(reading.metric, tokens) is None:
            continue
        return _proposal(title, reading, tokens, verb, due)
    return None


# --- 1. Normalizing -------------------------------------------------------------------------

# ASCII matching: case-insensitive Unicode would let "ſept" match "sept" and then miss the
# lower-cased dictionary lookups; \d must not match other scripts' digits either.
_I = re.I | re.A

# "1. ", "3) ", "- ", "• ", "KR2:", "Key result:" in front of a pasted list item.
_LIST_MARKER_RE = re.compile(
    r"^(?:[-*•·–]+\s+|\d{1,2}[.)]\s+|kr\s*\d*\s*[:.)-]\s*|key\s+result\s*\d*\s*:\s*)", _I
)
# Openers that are not the verb: "We will grow...", "Our goal is to reach...".
_LEAD_IN_RE = re.compile(
    r"^(?:we\s+will|we'll|we\s+want\s+to|we\s+aim\s+to|aim\s+to|our\s+goal\s+is\s+to|"
    r"goal\s+is\s+to|let's|to)\s+",
    _I,
)
# Slack control sequences (mentions, links, <!channel>) carry no KR meaning.
_SLACK_TOKEN_RE = re.compile(r"<[^<>]*>")
# The placeholder that stands in for a number; removed from the input so it can't be forged.
_MARK = "\x00"


def _slack_to_plain(text: str) -> str:
    text = _SLACK_TOKEN_RE.sub(" ", text.replace(_MARK, " "))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.replace("\u2212", "-").split())


# --- 2. Due dates ---------------------------------------------------------------------------

_MONTHS = {
    name.lower(): number
    for number, names in enumerate(parserinfo.MONTHS, start=1)  # ("Sep", "Sept", "September")
    for name in names
}
_MONTH = rf"(?P<month>{'|'.join(sorted(_MONTHS, key=len, reverse=True))})\b\.?"
_PREP = r"(?:by|before|until|till|no\s+later\s+than|due|on|in|during|for|within)"
_END = r"(?:(?:the\s+)?end\s+of\s+(?:the\s+)?)"
_YEAR = r"(?P<year>\d{4})"
_NUMBER_WORD = rf"(?:{'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))})"
_COUNT = rf"(?P<count>\d+|an?|{_NUMBER_WORD}(?:[\s-]{_NUMBER_WORD})*)"

_DueResolver = Callable[[re.Match[str], date], date | None]


@dataclass(frozen=True)
class _DueRule:
    regex: re.Pattern[str]
    # None, ValueError or OverflowError: a date clause that can't be pinned down (it is still
    # removed): "by 4/5", "by Feb 30", past year 9999.
    resolve: _DueResolver


def _due(pattern: str, resolve: _DueResolver) -> _DueRule:
    return _DueRule(re.compile(pattern, _I), resolve)


def _iso(match: re.Match[str], today: date) -> date | None:
    return date(int(match["year"]), int(match["m"]), int(match["d"]))


def _slashed(match: re.Match[str], today: date) -> date | None:
    first, second = int(match["a"]), int(match["b"])
    if first <= 12 < second:
        month, day = first, second  # 3/31
    elif second <= 12 < first:
        month, day = second, first  # 31/3
    elif first == second:
        month = day = first
    else:
        return None  # 4/5: April 5 or May 4? Leave the date to the person.
    return _in_year(_year(match), today, lambda y: date(y, month, day))


def _month_day(match: re.Match[str], today: date) -> date | None:
    month, day = _MONTHS[match["month"].lower()], int(match["d"])
    return _in_year(_year(match), today, lambda y: date(y, month, day))


def _month_end(match: re.Match[str], today: date) -> date | None:
    month = _MONTHS[match["month"].lower()]
    return _in_year(_year(match), today, lambda y: _last_day(y, month))


def _quarter_end(match: re.Match[str], today: date) -> date | None:
    part = match["part"].lower()
    # Q1..Q4 end in months 3, 6, 9, 12; H1 and H2 in 6 and 12.
    month = 3 * int(part[1]) if part[0] == "q" else 6 * int(part[1])
    return _in_year(_year(match), today, lambda y: _last_day(y, month))


def _period_end(match: re.Match[str], today: date) -> date | None:
    step = 1 if (match["which"] or match["which2"] or "").lower() == "next" else 0
    return _end_of(match["period"].lower(), today, step)


_ABBREVIATED = {"eoy": "year", "yearend": "year", "eoq": "quarter", "quarterend": "quarter"}


def _abbreviated_end(match: re.Match[str], today: date) -> date | None:
    abbr = re.sub(r"[\s-]", "", match["abbr"].lower())
    return _end_of(_ABBREVIATED.get(abbr, "month"), today)


def _end_of(period: str, today: date, step: int = 0) -> date:
    """The last day of this (step 0) or the next (step 1) year, quarter or month."""
    if period == "year":
        return today + relativedelta(years=step, month=12, day=31)
    months = 3 * step + 2 - (today.month - 1) % 3 if period == "quarter" else step
    return today + relativedelta(months=months, day=31)


def _year_end(match: re.Match[str], today: date) -> date | None:
    return _last_day(int(match["year"]), 12)


# relativedelta keeps the day of the month, clamped to the month's length (Aug 31 + 1 month:
# Sep 30).
_SPANS = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "quarter": relativedelta(months=3),
    "year": relativedelta(years=1),
}


def _relative(match: re.Match[str], today: date) -> date | None:
    count = _count(match["count"])
    if count is None or count > 1000:
        return None
    return today + _SPANS[match["unit"].lower().rstrip("s")] * count


def _count(text: str) -> int | None:
    value = 1.0 if text.lower() in ("a", "an") else parse_number(text)
    return int(value) if value is not None and value.is_integer() and value >= 1 else None


# Ordered: the first rule that matches is the due date. Each needs a preposition or "end of",
# so that "Q3 revenue" or "March cohort" stay part of the metric.
_DUE_RULES = [
    # "by 2026-03-31"
    _due(rf"\b(?:{_PREP}\s+)?{_YEAR}-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})\b", _iso),
    # "by 3/31", "by 31/3/2026"; ambiguous 4/5 gives no date
    _due(
        rf"\b{_PREP}\s+(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})(?:/(?P<year>\d{{4}}|\d{{2}}))?\b",
        _slashed,
    ),
    # "by March 31", "by Mar 31st, 2027"
    _due(
        rf"\b{_PREP}\s+(?:the\s+)?{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"
        rf"(?:,?\s+{_YEAR}\b)?",
        _month_day,
    ),
    # "by 31 March", "on the 31st of March 2027"
    _due(
        rf"\b{_PREP}\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}"
        rf"(?:,?\s+{_YEAR}\b)?",
        _month_day,
    ),
    # "by end of Q3", "in Q3 2026", "by H1'27": the end of that quarter or half
    _due(
        rf"(?:\b{_PREP}\s+{_END}?|\b{_END})(?P<part>q[1-4]|h[12])\b"
        rf"(?:\s+{_YEAR}\b|\s*'(?P<yy>\d{{2}})\b)?",
        _quarter_end,
    ),
    # "by end of 2026"
    _due(rf"\b(?:{_PREP}\s+)?{_END}{_YEAR}\b", _year_end),
    # "in 2026" closing the sentence ("Launch in 2050 stores" is a count, "by 2027" ambiguous)
    _due(r"\b(?:in|during)\s+(?P<year>20\d\d)(?=\s*(?:[,.;!?]|$))", _year_end),
    # "by June", "by the end of March 2027": the last day of that month
    _due(rf"\b{_PREP}\s+{_END}?{_MONTH}(?:\s+{_YEAR}\b)?", _month_end),
    # "by the end of the quarter", "by next quarter", "this year"
    _due(
        rf"\b(?:{_PREP}\s+)?(?:{_END}(?:(?P<which>this|next)\s+)?|(?P<which2>this|next)\s+)"
        r"(?P<period>year|quarter|month)\b",
        _period_end,
    ),
    # "by EOY", "by year-end"
    _due(
        rf"\b(?:{_PREP}\s+)?(?:the\s+)?(?P<abbr>eoy|eoq|eom|year[\s-]end|quarter[\s-]end)\b",
        _abbreviated_end,
    ),
    # "within six months", "in 2 weeks", "over the next 90 days" (days only from 7 on)
    _due(
        rf"\b(?:within|in|over|during)\s+(?:the\s+)?(?:next\s+)?{_COUNT}\s+"
        r"(?P<unit>days?|weeks?|months?|quarters?|years?)\b",
        _relative,
    ),
]


def _extract_due(text: str, today: date) -> tuple[date | None, str]:
    """The due date and the text without its clause."""
    for rule in _DUE_RULES:
        for match in rule.regex.finditer(text):
            if rule.resolve is _relative and _is_short_span(match):
                continue  # "within 3 days" qualifies the metric, like "within 24 hours"
            remaining = f"{text[: match.start()]} {text[match.end() :]}"
            try:
                due = rule.resolve(match, today)
            except (ValueError, OverflowError):
                due = None
            return due, " ".join(remaining.split())
    return None, text


def _is_short_span(match: re.Match[str]) -> bool:
    count = _count(match["count"])
    return match["unit"].lower().startswith("day") and count is not None and count < 7


def _last_day(year: int, month: int) -> date:
    return date(year, month, 1) + relativedelta(day=31)  # day=31: the month's last day


def _year(match: re.Match[str]) -> int | None:
    """The year a date clause names: "2027", "'27", "/27"."""
    year = match.groupdict().get("year") or match.groupdict().get("yy")
    return None if year is None else int(year) + (2000 if len(year) == 2 else 0)


def _in_year(year: int | None, today: date, on: Callable[[int], date]) -> date:
    """on(year); without a year, the first of on(this year), on(next year)... that is not in
    the past (Feb 29: 8 years)."""
    if year is not None:
        return on(year)
    for candidate_year in range(today.year, today.year + 9):
        try:
            candidate = on(candidate_year)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise ValueError("no such day in the next 8 years")


# --- 3. Verbs -------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


class _Dir(Enum):
    UP = "up"  # increase, grow...
    DOWN = "down"  # reduce, cut...
    KEEP = "keep"  # keep, maintain: a threshold
    AIM = "aim"  # achieve, reach, hire: toward a target, up unless a comparison says otherwise
    DELIVER = "deliver"  # launch, ship: a milestone when no number follows


@dataclass(frozen=True)
class _Verb:
    word: str  # as typed, lower case: used for "customer inquiries resolved"
    kind: _Dir
    multiplier: float | None = None  # "double" → +1.0 when no number is given


_VERBS: dict[str, _Dir] = {
    verb: kind
    for kind, verbs in {
        _Dir.UP: "increase grow raise boost expand lift maximize maximise accelerate double "
        "triple quadruple",
        _Dir.DOWN: "reduce decrease cut lower lessen shrink drop minimize minimise slash trim "
        "halve shorten compress",
        _Dir.KEEP: "keep maintain stay remain hold sustain preserve ensure",
        _Dir.DELIVER: "launch ship release publish complete finish deliver migrate",
        _Dir.AIM: "achieve reach hit attain get obtain hire recruit onboard sign close win "
        "acquire add gain generate resolve answer handle process convert book sell secure land "
        "earn exceed surpass build create write run conduct host train interview make score "
        "retain activate collect fix enroll attract serve deploy automate save produce contact "
        "meet improve drive bring push have see pass",
    }.items()
    for verb in verbs.split()
}
# Two-word verbs whose particle sets the direction: "bring down", "roll out".
_PHRASAL: dict[tuple[str, str], _Dir] = {
    **{(v, "down"): _Dir.DOWN for v in ("bring", "drive", "push", "cut", "pay", "get", "keep")},
    **{(v, "up"): _Dir.UP for v in ("scale", "ramp", "drive", "speed", "step", "level")},
    ("roll", "out"): _Dir.DELIVER,
}
_MULTIPLIERS = {"double": 1.0, "triple": 2.0, "quadruple": 3.0, "halve": -0.5}
_VERB_RE = re.compile(r"^(?P<verb>[a-z]+)(?:\s+(?P<particle>up|down|out)\b)?\s*(?P<rest>.*)$", _I)


def _split_verb(text: str) -> tuple[_Verb | None, str]:
    match = _VERB_RE.match(text)
    if match is None:
        return None, text
    word, particle = match["verb"].lower(), (match["particle"] or "").lower()
    if (word, particle) in _PHRASAL:
        return _Verb(word, _PHRASAL[(word, particle)]), match["rest"]
    if word in _VERBS:
        rest = text[len(match["verb"]) :].strip()
        return _Verb(word, _VERBS[word], _MULTIPLIERS.get(word)), rest
    return None, text


# --- 4. Numbers in the sentence -------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str  # as typed, with its unit: "100 milliseconds", "$50k"
    value: float
    unit: UnitKind
    label: str | None  # "ms", "USD"
    bare: bool  # digits only, no scale/unit/symbol: may be part of a name ("Python 3")


# Digits as written in a sentence: "1,000", "1.5k", "$2M", "3 B", "30%", "1 million". Not
# glued to a word ("p95", "v2", "2FA"), a version ("2.0.1") or a range/date piece.
_DIGIT_TOKEN_RE = re.compile(
    r"""
    (?<![\w.,/-])
    (?P<number>
        (?:-(?=[$€£¥\d]))?[$€£¥]?
        (?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[+-]?\d+)?
        (?![\d]|[.,]\d|\s?[-–]\s?\d)           # "2-3 engineers" is a range: no single target
        (?:\s?(?:thousand|million|billion|trillion|mm|mn|bn|tn|k|m|b)(?!\w))?
        (?:\s?(?:%|percent\b|per\ cent\b))?
    )
    """,
    _I | re.VERBOSE,
)
# Number words: "six", "a hundred", "twenty-five thousand", "one million" (+ "percent").
_WORD_TOKEN_RE = re.compile(
    rf"\b(?P<number>(?:an?\s+)?{_NUMBER_WORD}\b(?:(?:\s+|-)(?:and\s+)?{_NUMBER_WORD}\b)*"
    r"(?:\s?(?:%|percent\b|per\s+cent\b))?)",
    _I,
)
_DURATION_WORDS = {
    "ms": ("ms", "msec", "msecs", "millisecond", "milliseconds"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "min": ("min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
}
_DURATION_LABELS = {word: label for label, words in _DURATION_WORDS.items() for word in words}
_UNIT_WORDS = sorted([*_DURATION_LABELS, *CURRENCY_WORDS], key=len, reverse=True)
# A unit right after a number: "100 ms", "24h", "5,000 GBP", "5 million dollars".
_UNIT_RE = re.compile(rf"\s?(?P<unit>{'|'.join(_UNIT_WORDS)})\b", _I)


def _find_numbers(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    taken: list[tuple[int, int]] = []
    for regex in (_DIGIT_TOKEN_RE, _WORD_TOKEN_RE):
        for match in regex.finditer(text):
            start, end = match.span("number")
            if any(start < b and a < end for a, b in taken):
                continue
            token = _read_token(text, match["number"], start, end)
            if token is not None:
                tokens.append(token)
                taken.append((token.start, token.end))
    return sorted(tokens, key=lambda t: t.start)


def _read_token(text: str, number: str, start: int, end: int) -> _Token | None:
    value = parse_number(number)
    if value is None or abs(value) > VALUE_MAX_ABS:
        return None
    symbol = next((s for s in CURRENCY_SYMBOLS if s in number), None)
    unit_match = _UNIT_RE.match(text, end)
    if end < len(text) and text[end].isalnum() and unit_match is None:
        return None  # "2FA", "3D": a name, not a quantity
    if number.rstrip().endswith(("%", "percent", "cent")):
        unit, label = UnitKind.PERCENT, None
    elif unit_match is not None and unit_match["unit"].lower() in _DURATION_LABELS:
        if symbol is not None:
            return None  # "$5 h" is not a reading we trust
        unit, label = UnitKind.DURATION, _DURATION_LABELS[unit_match["unit"].lower()]
        end = unit_match.end()
    elif unit_match is not None:
        code = CURRENCY_WORDS[unit_match["unit"].lower()]
        if symbol is not None and CURRENCY_SYMBOLS[symbol] != code:
            return None  # "$5 EUR"
        unit, label = UnitKind.CURRENCY, code
        end = unit_match.end()
    elif symbol is not None:
        unit, label = UnitKind.CURRENCY, CURRENCY_SYMBOLS[symbol]
    else:
        unit, label = UnitKind.NUMBER, None
    bare = unit is UnitKind.NUMBER and re.fullmatch(r"\d+(?:\.\d+)?", number) is not None
    return _Token(start, end, text[start:end], value, unit, label, bare)


def _template(text: str, tokens: list[_Token]) -> str:
    """The text with each number replaced by \\x00<index>\\x00."""
    parts, at = [], 0
    for index, token in enumerate(tokens):
        parts += [text[at : token.start], f"{_MARK}{index}{_MARK}"]
        at = token.end
    parts.append(text[at:])
    return "".join(parts)


# --- 5. Sentence patterns -------------------------------------------------------------------


def _num(name: str) -> str:
    return rf"{_MARK}(?P<{name}>\d+){_MARK}"


_AT_MOST = (
    r"\b(?:under|below|less\s+than|fewer\s+than|lower\s+than|at\s+most|no\s+more\s+than|"
    r"not\s+more\s+than|at\s+or\s+below|at\s+or\s+under|max(?:imum)?(?:\s+of)?)\b|<=|≤|<"
)
_AT_LEAST = (
    r"\b(?:over|above|more\s+than|greater\s+than|higher\s+than|at\s+least|no\s+less\s+than|"
    r"not\s+less\s+than|at\s+or\s+above|at\s+or\s+over|min(?:imum)?(?:\s+of)?)\b|>=|≥|>"
)
_CMP = rf"(?P<cmp>{_AT_MOST}|{_AT_LEAST})"
# A comparison after the number: "9 or higher", "99.9% and above", "5+".
_SUFFIX_CMP_RE = re.compile(
    r"^\s*(?:(?P<least>or\s+(?:higher|more|above|greater|over)|and\s+(?:above|up|over)|\+)"
    r"|(?P<most>or\s+(?:lower|less|fewer|below|under)|and\s+(?:below|under)))(?!\w)",
    _I,
)
# Numbers that qualify the metric rather than set the target: "within 24 hours".
_QUALIFIER_BEFORE_RE = re.compile(
    r"\b(?:within|in|under|below|less\s+than|over|after|per|every)\s*$", _I
)
# Where the object of "resolve 90% of X" ends and its qualifiers begin.
_QUALIFIER_START_RE = re.compile(
    r"(?:^|\s)(?:within|in|under|on|by|to|before|after|at|for|per|through|via|using|from|during|"
    r"without|with|across|inside|each|every)\b",
    _I,
)
_LEADING_FILLER_RE = re.compile(r"^(?:(?:a|an|the|our|my|your|their|its)\s+)+", _I)
_TRAILING_FILLER_RE = re.compile(r"(?:[\s,;:–-]+|\b(?:of|for|by|to|from|with|and)\b)+$", _I)


@dataclass(frozen=True)
class _Reading:
    target: int | None  # token index
    start: int | None = None
    relative: bool = False
    relative_down: bool | None = None  # from the words: "20% reduction", "10% more"
    metric: str = ""  # template text
    tail: str = ""  # template text after the target
    at_least: bool | None = None  # from a comparison; None when there is none


_SKIP = _Reading(target=None)  # the pattern does not apply: try the next one
_Reader = Callable[[re.Match[str], list[_Token], _Verb | None], _Reading | None]


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    read: _Reader  # _SKIP to try the next pattern, None to give up on the sentence


def _pattern(pattern: str, read: _Reader) -> _Pattern:
    return _Pattern(re.compile(pattern, _I), read)


def _cmp_direction(text: str | None) -> bool | None:
    if not text:
        return None
    return re.fullmatch(_AT_LEAST, text, _I) is not None


def _read_by(match: re.Match[str], tokens: list[_Token], verb: _Verb | None) -> _Reading | None:
    if tokens[int(match["t"])].unit is not UnitKind.PERCENT:
        return None  # "by $1M" is a change in units: a proposal can't hold it without a baseline
    return _Reading(
        target=int(match["t"]), relative=True, metric=match["metric"], tail=match["tail"]
    )


def _read_target(match: re.Match[str], tokens: list[_Token], verb: _Verb | None) -> _Reading:
    groups = match.groupdict()
    return _Reading(
        target=int(match["t"]),
        start=None if groups.get("s") is None else int(groups["s"]),
        metric=match["metric"],
        tail=groups.get("tail") or "",
        at_least=_cmp_direction(groups.get("cmp")),
    )


def _read_leading(match: re.Match[str], tokens: list[_Token], verb: _Verb | None) -> _Reading:
    """ "1 million active users", "90% of inquiries", "at least 5 engineers", "MRR $100k"."""
    pre, tail = match["pre"].strip(), match["tail"]
    change = (
        _CHANGE_WORD_RE.match(tail) if tokens[int(match["t"])].unit is UnitKind.PERCENT else None
    )
    if change is not None and pre.lower() in ("", "a", "an"):
        # "a 20% reduction in churn", "10% more signups": a relative change, not a level.
        return _Reading(
            target=int(match["t"]),
            relative=True,
            relative_down=change["down"] is not None,
            tail=tail[change.end() :],
        )
    at_least = _cmp_direction(pre) if pre and re.fullmatch(_CMP, pre, _I) else None
    if not pre or at_least is not None:
        return _Reading(target=int(match["t"]), tail=tail, at_least=at_least)
    # Something before the number: "Hit MRR $100k". Only with nothing after it, and not with a
    # moving verb, where "Grow revenue 20%" could be "by" or "to".
    after = _SUFFIX_CMP_RE.sub("", tail).strip(" .,;:")
    if after or (verb is not None and verb.kind in (_Dir.UP, _Dir.DOWN)):
        return _SKIP
    return _Reading(target=int(match["t"]), metric=pre, tail=tail)


# After a percentage, the words that make it a change: "20% more", "a 20% reduction".
_CHANGE_WORD_RE = re.compile(
    r"\s*(?:(?P<up>more|higher|increase|growth|uplift|improvement|lift|boost)"
    r"|(?P<down>less|fewer|lower|reduction|decrease|drop|cut|decline))\b",
    _I,
)

_PATTERNS = [
    # "from $50k to $120k", "from 8% to under 5%"
    _pattern(
        rf"^(?P<metric>.*?)\s*\bfrom\s+{_num('s')}\s*(?:\bto\b|->|→|–|-)\s*"
        rf"(?:{_CMP}\s*)?{_num('t')}(?P<tail>.*)$",
        _read_target,
    ),
    # "to $120k from $50k"
    _pattern(rf"^(?P<metric>.*?)\s*\bto\s+{_num('t')}\s+from\s+{_num('s')}\s*$", _read_target),
    # "by 30%": a relative change; "by $1M" gives up
    _pattern(
        rf"^(?P<metric>.*?)\s*\bby\s+(?:about\s+|around\s+|roughly\s+|at\s+least\s+)?"
        rf"{_num('t')}(?P<tail>.*)$",
        _read_by,
    ),
    # "to 30%", "to under 100 ms": an absolute target
    _pattern(rf"^(?P<metric>.*?)\s*\bto\s+(?:{_CMP}\s*)?{_num('t')}(?P<tail>.*)$", _read_target),
    # "under 100 ms", "at or above 99.9%", "≥ 9": a threshold
    _pattern(rf"^(?P<metric>.*?)\s*{_CMP}\s*{_num('t')}(?P<tail>.*)$", _read_target),
    # "of 9 or higher", "at 99.9%", "is 50", "NPS: 50"
    _pattern(
        rf"^(?P<metric>.*?)\s*(?:\b(?:of|at|is|are)\s+|=\s*|:\s*){_num('t')}(?P<tail>.*)$",
        _read_target,
    ),
    # "1 million active users", "90% of customer inquiries", "€2M in revenue"
    _pattern(rf"^(?P<pre>.*?){_num('t')}(?P<tail>.*)$", _read_leading),
]


# --- Building the proposal ------------------------------------------------------------------


def _proposal(
    title: str, reading: _Reading, tokens: list[_Token], verb: _Verb | None, due: date | None
) -> KRProposal | None:
    assert reading.target is not None
    tail = reading.tail
    at_least = reading.at_least
    suffix = _SUFFIX_CMP_RE.match(tail)
    if suffix is not None:
        at_least = suffix["least"] is not None
        tail = tail[suffix.end() :]
    metric_text = _restore(reading.metric, tokens)
    tail_text = _restore(tail, tokens)
    if metric_text is None or tail_text is None:
        return None  # another number we can't place: "500 users and 20 teams"
    metric_text, tail_text = _tidy(metric_text), _tidy(tail_text)

    target = tokens[reading.target]
    start = tokens[reading.start] if reading.start is not None else None
    unit = _merge_units(target, start)
    if unit is None:
        return None
    unit_kind, unit_label = unit

    # Without a verb only unambiguous shapes are read: "from X to Y", a comparison, or a
    # sentence that starts with its number ("10k weekly active users").
    if verb is None and start is None and at_least is None and reading.metric.strip():
        return None

    start_value = start.value if start else None
    kind = _kind(verb, reading, at_least, target.value, start_value, f"{metric_text} {tail_text}")
    if kind is None:
        return None
    relative: float | None = None
    target_value: float | None = target.value
    if reading.relative:
        change = abs(target.value) / 100
        if change == 0 or (kind is KRKind.DECREASE and change > 1):
            return None
        relative = -change if kind is KRKind.DECREASE else change
        target_value, unit_kind, unit_label = None, UnitKind.NUMBER, None

    metric, label = _metric_and_label(reading, target, unit_kind, metric_text, tail_text, verb)
    if unit_kind is UnitKind.NUMBER and not reading.relative:
        unit_label = label
    return KRProposal(
        kind=kind,
        title=title,
        metric=metric,
        unit=unit_kind,
        unit_label=unit_label,
        start=start_value,
        target=target_value,
        relative_change=relative,
        due=due,
    )


def _kind(
    verb: _Verb | None,
    reading: _Reading,
    at_least: bool | None,
    target: float,
    start: float | None,
    metric: str,
) -> KRKind | None:
    direction = verb.kind if verb else _Dir.AIM
    if reading.relative_down is not None:
        down = reading.relative_down
        # "Increase churn by a 20% reduction" contradicts itself; "keep" can't change.
        if direction is _Dir.KEEP or direction is (_Dir.UP if down else _Dir.DOWN):
            return None
        return KRKind.DECREASE if down else KRKind.INCREASE
    if start is not None:
        if start == target:
            return None
        moving_up = target > start
        # "Increase churn from 8% to 5%" contradicts itself: no guess.
        if (direction is _Dir.UP and not moving_up) or (direction is _Dir.DOWN and moving_up):
            return None
        return KRKind.INCREASE if moving_up else KRKind.DECREASE
    if direction is _Dir.UP:
        return KRKind.INCREASE
    if direction is _Dir.DOWN:
        return KRKind.DECREASE
    if reading.relative:
        return None if direction is _Dir.KEEP else KRKind.INCREASE
    if at_least is not None:
        return KRKind.AT_LEAST if at_least else KRKind.AT_MOST
    if target == 0:
        return KRKind.DECREASE  # "Achieve 0 critical bugs": the only way to zero is down
    if direction is _Dir.KEEP:
        # "Maintain 99.9% uptime" vs "Keep latency at 100 ms": the metric says which way is good.
        return KRKind.AT_MOST if _LOWER_IS_BETTER_RE.search(metric) else KRKind.AT_LEAST
    return KRKind.INCREASE


# Metrics where less is better, for "keep X at N" without "under"/"above".
_LOWER_IS_BETTER_RE = re.compile(
    r"\b(?:latency|churn|costs?|spend|burn|downtime|errors?|error\s+rate|bugs?|defects?|"
    r"incidents?|outages?|response\s+times?|load\s+times?|lead\s+times?|cac|attrition|"
    r"turnover|mttr|p\d\d)\b",
    _I,
)


def _merge_units(target: _Token, start: _Token | None) -> tuple[UnitKind, str | None] | None:
    if start is None or start.unit is UnitKind.NUMBER:
        return target.unit, target.label
    if target.unit is UnitKind.NUMBER:
        return start.unit, start.label  # "from 8 to 5%" → percent
    if (start.unit, start.label) != (target.unit, target.label):
        return None  # "from 5% to $10"
    return target.unit, target.label


def _metric_and_label(
    reading: _Reading,
    target: _Token,
    unit: UnitKind,
    metric: str,
    tail: str,
    verb: _Verb | None,
) -> tuple[str | None, str | None]:
    """(metric, unit label for plain counts)."""
    if metric:
        if unit is UnitKind.NUMBER and not reading.relative and tail:
            # "Grow community to 10k members in EMEA": members is the counted thing, the
            # qualifiers stay with the metric.
            label = _head(tail)
            qualifiers = tail[len(label) :] if label else tail
            return _clip(f"{metric} {qualifiers}"), _clip(label, UNIT_LABEL_MAX)
        return _clip(f"{metric} {tail}"), None
    if not tail:
        return None, None
    lowered = tail.lower()
    if unit is UnitKind.PERCENT and lowered.startswith("of "):
        # "Resolve 90% of customer inquiries within 24 hours"
        # → "customer inquiries resolved within 24 hours"
        return _clip(_with_participle(tail[3:], verb)), None
    if re.match(r"(?:in|of|from|on)\s", lowered):
        return _clip(tail.split(" ", 1)[1]), None  # "€2M in revenue" → "revenue"
    if unit is UnitKind.NUMBER:
        return _clip(tail), _clip(_head(tail), UNIT_LABEL_MAX)
    return _clip(tail), None


_NO_PARTICIPLE = frozenset(
    _words(
        "achieve reach hit attain get obtain keep maintain stay remain hold sustain ensure have "
        "see pass preserve exceed surpass"
    )
)
_IRREGULAR = {
    "win": "won",
    "sell": "sold",
    "build": "built",
    "make": "made",
    "run": "run",
    "meet": "met",
    "ship": "shipped",
    "write": "written",
    "drive": "driven",
    "bring": "brought",
    "cut": "cut",
    "submit": "submitted",
    "plan": "planned",
    "fix": "fixed",
}


def _with_participle(noun: str, verb: _Verb | None) -> str:
    if verb is None or verb.word in _NO_PARTICIPLE or verb.multiplier is not None:
        return _tidy(noun)
    word = verb.word
    if word in _IRREGULAR:
        participle = _IRREGULAR[word]
    elif word.endswith("e"):
        participle = word + "d"
    elif word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        participle = word[:-1] + "ied"
    else:
        participle = word + "ed"
    split = _QUALIFIER_START_RE.search(noun)
    if split is None:
        return _tidy(f"{noun} {participle}")
    return _tidy(f"{noun[: split.start()]} {participle}{noun[split.start() :]}")


def _head(noun: str) -> str | None:
    """The counted thing without its qualifiers: "engineers in Berlin" → "engineers"."""
    split = _QUALIFIER_START_RE.search(noun)
    return _tidy(noun[: split.start()] if split else noun) or None


def _restore(template: str, tokens: list[_Token]) -> str | None:
    """Template text with its numbers put back; None when one is an unexplained quantity.

    Only time qualifiers are explained: "within 24 hours", "in under 3 days".
    """
    out, at = [], 0
    for match in re.finditer(_num("i"), template):
        before, token = template[at : match.start()], tokens[int(match["i"])]
        if token.unit is not UnitKind.DURATION or not _QUALIFIER_BEFORE_RE.search(before):
            return None
        out += [before, token.text]
        at = match.end()
    out.append(template[at:])
    return "".join(out)


_NAME_BEFORE_RE = re.compile(r"(?:\b[A-Z][\w-]*|\b[Vv]ersion|\b[Vv])\s+$", re.A)


def _is_name_number(text: str, token: _Token) -> bool:
    """ "Python 3.12", "SOC 2", "version 2": a bare number right after a name."""
    return token.bare and _NAME_BEFORE_RE.search(text[: token.start]) is not None


def _tidy(text: str) -> str:
    text = " ".join(text.split()).strip(" ,;:.!?")
    text = _LEADING_FILLER_RE.sub("", text)
    return _TRAILING_FILLER_RE.sub("", text).strip()


def _clip(text: str | None, limit: int = KR_TITLE_MAX) -> str | None:
    text = _tidy(text or "")
    return text if text and len(text) <= limit else None


def _milestone(title: str, rest: str, due: date | None) -> KRProposal | None:
    """ "Ship the new onboarding flow": done or not. Names with numbers ("SOC 2") are fine."""
    deliverable = _tidy(re.sub(r"^to\s+", "", rest, flags=_I))  # "Migrate to Python 3.12"
    if not re.search(r"[^\W\d_]", deliverable):
        return None
    return KRProposal(KRKind.MILESTONE, title, _clip(deliverable), due, start=0.0, target=1.0)


def _multiplied(title: str, verb: _Verb, rest: str, due: date | None) -> KRProposal | None:
    """ "Double weekly signups": a relative change with no number written."""
    metric = _clip(rest)
    if metric is None or verb.multiplier is None:
        return None
    kind = KRKind.INCREASE if verb.multiplier > 0 else KRKind.DECREASE
    return KRProposal(kind, title, metric, due, relative_change=verb.multiplier)
