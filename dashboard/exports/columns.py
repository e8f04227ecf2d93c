"""Columns of an export and the fast conversion of database rows into cell values.

A dataset yields *raw* rows straight from the database, one value per column, of a type fixed by
the column's kind:

    kind        raw value from the database        typed value writers receive
    text        str | None                         str | None (cleaned per format)
    int         int | None                         int | None
    money       int cents | None                   Decimal with two places | None
    datetime    naive UTC datetime | None          naive business-local datetime (whole seconds)
    date        naive UTC datetime or date | None  business-local date
    bool        bool | int | None                  bool | None

With `as_text` (CSV), money and datetime cells come out as the text `str()` gives those typed
values ("1234.50", "2024-03-15 14:03:00").

`build_row_converter` compiles one small function per export that turns a raw tuple into a typed
tuple in a single expression: exports run over a million rows, and a Python loop over the cells
of each row costs more than the rest of the pipeline together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

KINDS = ("text", "int", "money", "datetime", "date", "bool")

CENT = Decimal("0.01")
EXCEL_MAX_CHARS = 32767
TRUNCATED_MARKER = " … [truncated]"
# Characters XML 1.0 cannot hold (so neither can XLSX, nor xhtml2pdf's parser); tab, LF and CR stay.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# A text cell starting with one of these could run as a formula in a spreadsheet.
FORMULA_PREFIXES = frozenset("=+-@\t\r")


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"
    width: int = 14  # Excel character units; the PDF uses them as relative widths
    total: bool = False  # summed in the totals row (Excel, PDF)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


# ---- text cleaning, per format ------------------------------------------------------------


def clean_text(value: str | None) -> str | None:
    """Drop control characters that XML (XLSX, the PDF's HTML) cannot hold."""
    if value is None:
        return None
    if ILLEGAL_CHARACTERS_RE.search(value) is not None:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def guard_formula(value: str | None) -> str | None:
    """Prefix a quote so that no spreadsheet runs the text as a formula (CONTRACT section 5)."""
    if value and value[0] in FORMULA_PREFIXES:
        return "'" + value
    return value


def csv_text(value: str | None) -> str | None:
    """CSV cell text: control characters dropped, formula guard applied."""
    if value is None:
        return None
    if ILLEGAL_CHARACTERS_RE.search(value) is not None:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value and value[0] in FORMULA_PREFIXES:
        value = "'" + value
    return value


class GuardedText(str):
    """Excel text that starts with a formula character: written as a text cell with the
    quote-prefix style (CONTRACT section 5), so the spreadsheet shows it as it is, with no `'`."""

    __slots__ = ()


def excel_text(value: str | None) -> str | None:
    """Excel cell text: control characters dropped, cut to Excel's 32,767-character cell limit with
    a marker; text that starts with a formula character comes back as `GuardedText` (no `'` added:
    the quote-prefix style guards it)."""
    if value is None:
        return None
    if ILLEGAL_CHARACTERS_RE.search(value) is not None:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(value) > EXCEL_MAX_CHARS:
        value = value[: EXCEL_MAX_CHARS - len(TRUNCATED_MARKER)] + TRUNCATED_MARKER
    if value and value[0] in FORMULA_PREFIXES:
        return GuardedText(value)
    return value


def truncate_text(value: str | None, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        return value[: limit - len(TRUNCATED_MARKER)] + TRUNCATED_MARKER
    return value


# ---- money and time -----------------------------------------------------------------------


def money(cents: int | None) -> Decimal | None:
    """Integer cents -> Decimal with exactly two places (12.00, not 12)."""
    return None if cents is None else Decimal(cents) * CENT


class LocalTime:
    """Naive UTC datetimes -> naive business-local datetimes, fast.

    `astimezone` costs about 3 µs a call; a zone's offset only changes at its transitions, so it is
    cached per UTC day. A day that contains a transition (the offsets at its two ends differ) is
    converted exactly, value by value, whatever minute the change falls on.
    """

    def __init__(self, tz: str):
        self.zone = ZoneInfo(tz)
        # Per UTC day (its ordinal): the offset, or None for a day with a transition.
        self.offsets: dict[int, timedelta | None] = {}
        self.utc = tz in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Zulu", "Zulu", "Universal")

    def _offset(self, value: datetime) -> timedelta | None:
        start = datetime(value.year, value.month, value.day, tzinfo=UTC)
        try:
            first = start.astimezone(self.zone).utcoffset()
            last = (start + timedelta(days=1, microseconds=-1)).astimezone(self.zone).utcoffset()
        except OverflowError:  # the first or last day a datetime can hold
            first, last = None, 0
        offset = first if first == last else None
        self.offsets[value.toordinal()] = offset
        return offset

    def datetime(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:  # tolerate aware values (e.g. a UTCDateTime column)
            value = value.astimezone(UTC).replace(tzinfo=None)
        if value.microsecond:
            value -= timedelta(microseconds=value.microsecond)
        if self.utc:
            return value
        offset = self.offsets.get(value.toordinal(), False)
        if offset is False:
            offset = self._offset(value)
        if offset is None:
            try:
                return value.replace(tzinfo=UTC).astimezone(self.zone).replace(tzinfo=None)
            except OverflowError:
                return value
        try:
            return value + offset
        except OverflowError:  # within a day of datetime.min / datetime.max
            return value

    def date(self, value: datetime | date | None) -> date | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            return value
        return self.datetime(value).date()


class DateTimeText:
    """Whole-second datetimes as `str()` writes them ("2024-03-15 14:03:00"), about three times
    faster: the day's text is kept per day, the time's from two short tables."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}
        self.hours_minutes = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
        self.seconds = [f"{s:02d}" for s in range(60)]

    def day(self, value: datetime) -> str:
        text = self.days[value.toordinal()] = value.date().isoformat() + " "
        return text


# Money as text: whole units and the cents after the point from a table ("12" + ".50"). Cents
# summed by PostgreSQL arrive as Decimal: those go the typed way, then str().
CENTS_TEXT = tuple(f".{c:02d}" for c in range(100))
MONEY_TEXT = (
    '((str(m // 100) + _CT[m % 100] if m >= 0 else "-" + str(-m // 100) + _CT[-m % 100])'
    " if m.__class__ is int else str(_D(m) * _C))"
)


def build_row_converter(
    columns: Sequence[Column],
    tz: str,
    text: Callable[[str | None], object] | None = None,
    text_max: int | None = EXCEL_MAX_CHARS,
    as_text: bool = False,
) -> Callable[[tuple], tuple]:
    """Compile `raw tuple -> typed tuple` for these columns (see the module docstring).

    `text` cleans text cells for the target format (csv_text, excel_text, ...); None keeps them.
    It is called for every text that is empty, starts with a formula character, holds an
    unprintable character or is longer than `text_max` (None: no limit); other text, and None,
    is kept as it is.

    `as_text` (CSV): money and datetimes come out as the text `str()` gives their typed values
    ("1234.50", "2024-03-15 14:03:00"), made here: the csv module's `str()` of a datetime alone
    cost a tenth of a CSV export (issue 21, docs/performance.md).
    """
    local = LocalTime(tz)
    namespace: dict[str, object] = {
        "_D": Decimal,
        "_C": CENT,
        "_dt": local.datetime,
        "_O": local.offsets.get,
        "_d": local.date,
        "_t": text,
        "_P": FORMULA_PREFIXES,
        "_L": text_max,
    }
    if as_text:
        clock = DateTimeText()
        namespace.update(
            _DAY=clock.days.get, _day=clock.day, _HM=clock.hours_minutes, _S=clock.seconds, _CT=CENTS_TEXT
        )
    short_enough = "" if text_max is None else " and len(t) <= _L"
    parts = []
    for i, column in enumerate(columns):
        v = f"r[{i}]"
        if column.kind == "text":
            # Most text needs nothing: skip the cleaner's call when the first character cannot start
            # a formula, nothing is unprintable (control characters are not) and it is short enough.
            parts.append(
                f"(t if (t := {v}) is None or (t and t[0] not in _P and t.isprintable(){short_enough})"
                " else _t(t))"
                if text is not None
                else v
            )
        elif column.kind == "int":
            parts.append(v)
        elif column.kind == "money":
            parts.append(f"(None if (m := {v}) is None else {MONEY_TEXT if as_text else '_D(m) * _C'})")
        elif column.kind == "datetime":
            # A naive whole-second value on a day whose offset is known is shifted here; the rest
            # (None, aware, fractions, a day not seen yet or with a transition) go through _dt.
            shifted = "d" if local.utc else "d + o"
            known = "" if local.utc else " and (o := _O(d.toordinal())) is not None"
            typed = (
                f"({shifted} if (d := {v}) is not None and d.tzinfo is None and not d.microsecond{known}"
                " else _dt(d))"
            )
            parts.append(
                f"(None if (x := {typed}) is None else (_DAY(x.toordinal()) or _day(x))"
                " + _HM[x.hour * 60 + x.minute] + _S[x.second])"
                if as_text
                else typed
            )
        elif column.kind == "date":
            parts.append(f"_d({v})")
        elif column.kind == "bool":
            parts.append(f"(None if {v} is None else bool({v}))")
    # Generated from our own column kinds only, never from data.
    source = "def convert(r):\n    return (" + "".join(p + ", " for p in parts) + ")\n"
    exec(compile(source, "<row converter>", "exec"), namespace)  # noqa: S102
    return namespace["convert"]  # type: ignore[return-value]


class Totals:
    """Sums of the total columns, accumulated batch by batch (values computed in Python)."""

    def __init__(self, columns: Sequence[Column]):
        self.columns = list(columns)
        self.indexes = [i for i, c in enumerate(columns) if c.total]
        self.sums: dict[int, int | Decimal] = {
            i: (Decimal("0.00") if columns[i].kind == "money" else 0) for i in self.indexes
        }
        self.count = 0

    def add(self, rows: Iterable[tuple]) -> None:
        rows = rows if isinstance(rows, list) else list(rows)
        self.count += len(rows)
        for i in self.indexes:
            self.sums[i] += sum(v for r in rows if (v := r[i]) is not None)

    def row(self, label: str) -> list:
        """The totals row: the label in the first column, sums under their columns."""
        values: list = [None] * len(self.columns)
        for i in self.indexes:
            values[i] = self.sums[i]
        values[0] = label
        return values
