"""Secrets out of log lines and messages: credentials and query values in URLs.

A base URL may carry credentials (``https://user:password@gateway/v1``) or a token in its query.
Our own messages name such URLs through ``redact_url``; libraries log them too (httpx writes
every request's full URL at INFO), so ``configure_logging`` puts ``RedactURLs`` on the handlers
and every line is cleaned on its way out, whoever wrote it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"""\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>()\[\]{}]+""")


def redact_url(url: str) -> str:
    """``url`` fit for a log line or a message: no user:password@, no query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparseable URL)"
    if "@" not in parts.netloc and not parts.query:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    if "@" in parts.netloc:
        netloc = f"***@{netloc}"
    query = "&".join(f"{pair.partition('=')[0]}=***" for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)


class RedactURLs(logging.Filter):
    """A handler filter that redacts the URLs of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """``logging.basicConfig``, with URLs redacted on every root handler.

    The handlers take ``level`` too: a library that sets its own logger to DEBUG (bm25s does)
    would otherwise print its debug lines on the operator's console."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactURLs())
        handler.setLevel(level)
