"""Turning what people type into cells into numbers, dates, flags and names."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from typing import NamedTuple


# Characters that reorder text on screen (bidirectional overrides, isolates and marks).
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NO_BIDI = {ord(c): None for c in BIDI_CONTROLS}
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def terminal_safe(text: str) -> str:
    """Text (with values from a sheet in it) as a terminal, a log or JSON may show it: control
    characters become visible escapes (``\\x1b``; ``\\u0085`` and ``\\u202e`` beyond ASCII, valid
    in JSON too), so a cell can never clear the screen, retitle the terminal or reorder a line.
    Tabs and line breaks stay."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x20 else f"\\u{ord(m.group()):04x}", text)


def without_bidi(text: str) -> str:
    return text.translate(_NO_BIDI)


def excel_unescaped(text: str) -> str:
    """Cell text as Excel shows it: ``_x001B_`` stands for the character it numbers (and
    ``_x005F_`` for a plain underscore, so ``_x005F_x0041_`` is the text ``_x0041_``)."""
    return _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def excel_escaped(text: str) -> str:
    """Text that reads back as itself in Excel: a literal ``_xHHHH_`` gets its underscore escaped."""
    return _EXCEL_ESCAPE.sub(lambda m: "_x005F" + m.group(0), text) if "_x" in text else text


class ErrorValue(str):
    """A cell showing a spreadsheet error such as ``#DIV/0!`` or ``#REF!``."""


class Number(NamedTuple):  # a tuple: built for every numeric cell, so cheap to make
    value: float
    percent: bool  # typed with a % sign


_CURRENCY = "$€£¥₹₩₽₺₪CHF"
_NUMBER_RE = re.compile(
    r"""^\s*(?P<sign>[-+−])?\s*(?:[$€£¥₹₩₽₺₪]|CHF|USD|EUR|GBP)?\s*
        (?P<num>\d[\d,' \u00a0\u202f]*(?:\.\d*)?|\.\d+)\s*
        (?P<suffix>%|[kKmM](?![a-zA-Z])|[^\d%]*)\s*$""",
    re.VERBOSE,
)
_MULTIPLIERS = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}


def is_blank(raw: object) -> bool:
    if raw is None:
        return True
    kind = type(raw)
    if kind is str:
        return not raw or raw.isspace()
    if kind is float:
        return raw != raw  # NaN
    return False  # numbers, dates, booleans, error values


def parse_number(raw: object) -> Number | None:
    """A number from a cell: 1200, "1,200", "45 %", "$150,000", "2 h", "1.5k". None if not one."""
    kind = type(raw)
    if kind is float or kind is int:  # the common case first: a number cell
        return Number(float(raw), False) if math.isfinite(raw) else None
    if kind is not str:  # booleans, dates, error values (a str subclass), None
        return None
    text = str(raw).strip()
    if len(text) > 64:  # no number people type is longer; keeps hostile text cheap
        return None
    match = _NUMBER_RE.match(text)
    if not match:
        return None
    digits = re.sub(r"[,' \u00a0\u202f]", "", match["num"])
    try:
        value = float(digits)
    except ValueError:
        return None
    suffix = match["suffix"].strip()
    # A trailing unit ("2 h", "15 days") is fine; trailing words that look like another
    # number or an expression ("10 to 20") are not.
    if suffix and suffix != "%" and suffix not in _MULTIPLIERS and re.search(r"\d", suffix):
        return None
    value *= _MULTIPLIERS.get(suffix, 1.0)
    if match["sign"] in ("-", "−"):
        value = -value
    if not math.isfinite(value):
        return None
    return Number(value, suffix == "%")


def parse_date(raw: object) -> dt.date | None:
    """A date from a real date cell or ISO text (2026-12-31); None otherwise."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and not isinstance(raw, ErrorValue):
        text = raw.strip()
        try:
            return dt.date.fromisoformat(text[:10]) if len(text) >= 10 else None
        except ValueError:
            return None
    return None


DONE_WORDS = {"done", "yes", "y", "true", "1", "✓", "✔", "x", "complete", "completed", "achieved"}
NOT_DONE_WORDS = {"", "no", "n", "false", "0", "not done", "open", "pending", "todo", "to do",
                  "in progress", "✗", "✘"}


def parse_done(raw: object) -> bool | None:
    """A milestone's state: True done, False not done, None unrecognisable."""
    if isinstance(raw, ErrorValue):
        return None
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)):
        return {1: True, 0: False}.get(raw) if raw in (0, 1) else None
    text = str(raw).strip().lower()
    if text in DONE_WORDS:
        return True
    if text in NOT_DONE_WORDS:
        return False
    return None


_NOT_ALNUM = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=8192)  # headers and keywords repeat on every row
def _normalise_text(text: str) -> str:
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def normalise(text: object) -> str:
    """Header and keyword matching: case-, space- and punctuation-insensitive."""
    text = str(text or "")
    return _normalise_text(text) if len(text) <= 200 else _normalise_text.__wrapped__(text)


def text_of(raw: object) -> str:
    """A cell's full text: strings stripped, numbers and dates written out, blank as ""."""
    if isinstance(raw, str):
        return raw.strip()
    return "" if is_blank(raw) else display(raw)


def display(raw: object) -> str:
    """A cell value as a person would quote it in a message (long text shortened)."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    text = str(raw).strip()
    return text if len(text) <= 60 else text[:57] + "..."
