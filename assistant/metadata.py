"""An article's metadata: the ``<stem>.meta.toml`` sidecar and what the file says, validated.

The sidecar wins over what the file says (front matter, ``<h1>``, the source line). Every value
is checked at ingest, wherever it came from, so a bad one refuses that one file with a sentence
naming the field, instead of failing later in every answer that cites the article (a
``published = "2025-13"`` used to turn each English answer citing it into an HTTP 500).

Fields (all optional):

=============== ==============================================================================
``title``       text
``publisher``   text
``source``      text (the 来源 line)
``published``   ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a TOML date too), a real date; a time
                of day after the date is dropped (``2026-03-18T09:00:00+08:00``: the 18th)
``products``    a list of text (or one text)
``risk_level``  the product's risk rating, ``R1`` to ``R5`` (advisor suitability checks)
``disclosure``  the risk disclosure (风险提示) verbatim, for an article that carries none
=============== ==============================================================================

An unknown field is refused too: a misspelt ``publised`` would otherwise be silently ignored.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from .errors import IngestError
from .text import normal_form

T = TypeVar("T")

FIELDS = ("title", "publisher", "source", "published", "products", "risk_level", "disclosure")
_PUBLISHED = re.compile(r"^(\d{4})(?:[-/.年](\d{1,2})月?(?:[-/.](\d{1,2})日?|(\d{1,2})日)?)?$")
# A full date with a time of day after it, as CMS exports write it (2026-03-18T09:00:00+08:00).
_WITH_TIME = re.compile(
    r"^(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)
_RISK_LEVEL = re.compile(r"^[Rr]([1-5])$")


@dataclass(frozen=True)
class Metadata:
    title: str | None = None
    publisher: str | None = None
    source: str | None = None
    published: str | None = None  # "2025", "2025-02" or "2025-02-06"
    products: tuple[str, ...] = ()
    risk_level: str | None = None  # "R1" … "R5"
    disclosure: str | None = None


def sidecar_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.meta.toml")


def read_sidecar(path: Path, key: str) -> tuple[bytes, dict[str, object]]:
    """The sidecar's bytes (hashed into the article's version) and its parsed table."""
    sidecar = sidecar_path(path)
    try:
        data = sidecar.read_bytes()
    except FileNotFoundError:
        return b"", {}
    except OSError as exc:
        raise IngestError(
            key, f"its metadata file {sidecar.name} cannot be read ({exc.strerror})."
        ) from exc
    try:
        table = tomllib.loads(data.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(
            key,
            f"its metadata file {sidecar.name} is not valid UTF-8 TOML ({exc}); fix or delete it.",
        ) from exc
    return data, table


def _where(name: str, origin: dict[str, str]) -> str:
    return origin.get(name, "the file")


def _text(value: object, name: str, where: str, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return normal_form(str(value)).strip() or None
    raise IngestError(key, f"the field {name!r} in {where} must be text; fix it.")


def _published(value: object, where: str, key: str) -> str | None:
    """The date in its canonical form: "2025", "2025-02" or "2025-02-06"."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value, "published", where, key)
    if text is None:
        return None
    match = _PUBLISHED.match(timed[1] if (timed := _WITH_TIME.match(text)) else text)
    problem = f"the field 'published' in {where} is {text!r}, not a date"
    if match is None:
        raise IngestError(key, f"{problem}; write it as 2025-02 or 2025-02-06.")
    year, month, day = match[1], match[2], match[3] or match[4]
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise IngestError(key, f"{problem} ({exc}); write it as 2025-02 or 2025-02-06.") from exc
    if not 1900 <= int(year) <= 2100:
        raise IngestError(key, f"{problem} (the year is out of range); fix it.")
    parts = [year] + [f"{int(part):02d}" for part in (month, day) if part]
    return "-".join(parts)


def _products(value: object, where: str, key: str) -> tuple[str, ...]:
    if value is None or value == []:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(p for v in value if (p := normal_form(v).strip()))
    raise IngestError(key, f"the field 'products' in {where} must be a list of text; fix it.")


def _risk_level(value: object, where: str, key: str) -> str | None:
    text = _text(value, "risk_level", where, key)
    if text is None:
        return None
    match = _RISK_LEVEL.match(text)
    if match is None:
        raise IngestError(
            key,
            f"the field 'risk_level' in {where} is {text!r}; it must be one of R1, R2, R3, R4, "
            "R5 (the product's risk rating).",
        )
    return f"R{match[1]}"


def resolve(
    found: dict[str, object], sidecar: dict[str, object], sidecar_name: str, key: str
) -> Metadata:
    """The article's metadata: ``sidecar`` over ``found`` (what the file says), validated.

    Every problem is named in one refusal, so the author fixes the file once."""
    values = {**{k: v for k, v in found.items() if v not in (None, "", [])}, **sidecar}
    origin = {name: f"the metadata file {sidecar_name}" for name in sidecar}
    problems: list[str] = []
    unknown = sorted(set(sidecar) - set(FIELDS))
    if unknown:
        problems.append(
            f"its metadata file {sidecar_name} has the unknown field"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the fields are {', '.join(FIELDS)}."
        )

    def field(name: str, read: Callable[[object, str, str], T]) -> T | None:
        try:
            return read(values.get(name), _where(name, origin), key)
        except IngestError as error:
            problems.append(error.reason)
            return None

    def text(name: str) -> str | None:
        return field(name, lambda value, where, key: _text(value, name, where, key))

    meta = Metadata(
        title=text("title"),
        publisher=text("publisher"),
        source=text("source"),
        published=field("published", _published),
        products=field("products", _products) or (),
        risk_level=field("risk_level", _risk_level),
        disclosure=field("disclosure", _disclosure),
    )
    if len(problems) > 1:
        listed = "; ".join(f"({n}) {p.rstrip('.')}" for n, p in enumerate(problems, start=1))
        raise IngestError(key, f"{len(problems)} problems: {listed}.")
    if problems:
        raise IngestError(key, problems[0])
    return meta


def _disclosure(text: object, where: str, key: str) -> str | None:
    """A sidecar's disclosure in the shape one found in a file has: its non-blank lines."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise IngestError(key, f"the field 'disclosure' in {where} must be text; fix it.")
    lines = [line.strip() for line in normal_form(text).split("\n")]
    return "\n".join(line for line in lines if line) or None
