"""The command line: ``python -m assistant ask``, ``thesis``, ``lint`` and ``audit``.

Errors are translated here, once: an ``AssistantError`` becomes its sentence on stderr and
exit status 1 (2 for usage errors, as argparse does). ``audit verify`` exits 1 at a broken
link of the hash chain (``assistant.audit.commands``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import AssistantError, InputError
from .redact import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer one question from the articles")
    ask.add_argument("question", help="the question, in Chinese or English")
    ask.add_argument("--json", action="store_true", help="print the Answer object as JSON")
    ask.add_argument(
        "--history",
        type=Path,
        metavar="FILE",
        help='JSON list of {"role": "user"|"assistant", "content": str}',
    )
    ask.add_argument(
        "--mode",
        choices=("investor", "advisor"),
        default="investor",
        help="investor: a short answer; advisor: a longer draft for a client",
    )

    thesis = commands.add_parser("thesis", help="each article's argument as a map of sourced steps")
    thesis.add_argument("--json", action="store_true", help='print {"maps": [...]} as JSON')
    thesis.add_argument(
        "--path", help="only the article stored under this key (as ingest names it)"
    )

    lint = commands.add_parser("lint", help="check a text against the fund-marketing rules")
    lint.add_argument("file", nargs="?", default="-", help="a UTF-8 text file, or - for stdin")
    lint.add_argument("--json", action="store_true", help='print {"ok": bool, "findings": [...]}')

    _add_audit(commands)
    return parser


def _add_audit(commands: Any) -> None:  # argparse keeps its subparsers type private
    audit = commands.add_parser(
        "audit", help="the audit trail: verify, export, costs, purge, replay"
    )
    actions = audit.add_subparsers(dest="action", required=True)
    verify = actions.add_parser("verify", help="check the hash chain; exit 1 at a broken link")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.add_argument(
        "--kept",
        action="append",
        default=[],
        metavar="HASH",
        help="a chain head printed by an earlier verify and kept elsewhere: it must still be "
        "in the chain (rows removed from the end and the head moved back show only so)",
    )
    export = actions.add_parser("export", help="print the turns, oldest first")
    export.add_argument("--since", metavar="DATE", help="only turns from this date (UTC) on")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    costs = actions.add_parser("costs", help="tokens and estimated cost per day and model")
    costs.add_argument("--since", metavar="DATE", help="from this date (default: 30 days ago)")
    costs.add_argument("--json", action="store_true", help="print the figures as JSON")
    purge = actions.add_parser("purge", help="delete rows past the retention period")
    purge.add_argument(
        "--days", type=int, metavar="N", help="default: ASSISTANT_AUDIT_RETENTION_DAYS"
    )
    actions.add_parser("replay", help="write the records a failed database left in the spill")


def _ask(args: argparse.Namespace) -> int:
    from .answer import parse_history
    from .config import load_settings
    from .factory import build_engine

    settings = load_settings()
    history = []
    if args.history:
        try:
            raw = json.loads(args.history.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"Cannot read the history file {args.history}: {error}.") from error
        history = parse_history(raw, settings.max_message_chars)
    engine = build_engine(settings)
    answer = engine.ask(args.question, history, args.mode, channel="cli")
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.answer)
    if answer.citations:
        print()
        for c in answer.citations:
            where = " · ".join(p for p in (c.publisher, c.published, c.section) if p)
            print(f"[{c.n}] 《{c.title}》 {where}\n    “{c.quote}”")
    print()
    for notice in answer.notices:
        print(f"* {notice}")
    print()
    print(answer.disclosure)
    return 0


def _thesis(args: argparse.Namespace) -> int:
    from .config import load_settings
    from .factory import build_engine
    from .thesis import ThesisService, render_outline

    maps = ThesisService(build_engine(load_settings())).maps(channel="cli", path=args.path)
    if args.json:
        print(json.dumps({"maps": [m.to_dict() for m in maps]}, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(render_outline(m) for m in maps), end="")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from .compliance import lint

    report = lint(_lint_text(args.file))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif report.ok:
        print("ok: no findings")
    else:
        for f in report.findings:
            print(f"{f.start}-{f.end} [{f.severity}] {f.rule} ({f.category}): {f.text}")
            print(f"    basis: {f.basis}\n    suggestion: {f.suggestion}")
    return 0 if report.ok else 1


def _lint_text(file: str) -> str:
    """The text to check: stdin, a plain text file, or an article as ingest reads it (a web
    page's, a Markdown file's, a Word file's or a PDF's text, without its markup: the markup is
    no one's marketing, and a PDF is no UTF-8 text). Positions are in that text."""
    from .config import load_settings
    from .documents import SUPPORTED_SUFFIXES, load_article
    from .errors import IngestError

    path = Path(file)
    suffix = path.suffix.lower()
    if file != "-" and suffix in SUPPORTED_SUFFIXES and suffix != ".txt":
        try:
            article = load_article(path, path.name, load_settings().max_file_bytes)
        except IngestError as error:
            raise InputError(f"Cannot read {file}: {error.reason}") from error
        return "\n".join(block.text for block in article.blocks)
    try:
        return sys.stdin.read() if file == "-" else path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"Cannot read {file} as UTF-8 text: {error}.") from error


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.WARNING)  # URLs in log lines lose their credentials
    try:
        if args.command == "audit":
            from .audit.commands import run

            return run(args)
        commands = {"ask": _ask, "thesis": _thesis, "lint": _lint}
        return commands[args.command](args)
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader left (`audit export | head`): stop without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor one at exit's flush
        return 1
