"""``python -m assistant audit verify|export|costs|purge|replay``: the operator's commands.

Exit codes: 0 done; 1 the chain is broken (``verify``); 2 a usage error (argparse's convention,
also for a bad ``--since``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..errors import InputError
from . import reports
from .reports import since_bound

if TYPE_CHECKING:
    from ..config import Settings
    from .log import AuditLog


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings
    from ..factory import build_audit

    settings = load_settings()
    log = build_audit(settings)
    try:
        return _run(args, settings, log)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        log.close()


def _run(args: argparse.Namespace, settings: Settings, log: AuditLog) -> int:
    if args.action == "verify":
        return _verify(log, args.json, args.kept)
    if args.action == "export":
        rows = log.rows(since=since_bound(args.since))
        write = reports.write_csv if args.format == "csv" else reports.write_jsonl
        count = write(rows, sys.stdout)
        print(f"exported {count} turns", file=sys.stderr)
        return 0
    if args.action == "costs":
        prices = reports.Prices(
            settings.price_cache_hit,
            settings.price_cache_miss,
            settings.price_output,
            settings.price_currency,
        )
        lines = reports.costs(log.rows(since=since_bound(args.since or reports.default_since())))
        if args.json:
            print(json.dumps(reports.cost_json(lines, prices), indent=2))
        else:
            print("\n".join(reports.cost_table(lines, prices)))
        return 0
    if args.action == "purge":
        days = args.days or settings.audit_retention_days
        if not days or days < 1:
            raise InputError(
                "Say how old a row must be to go: pass --days N (at least 1) or set "
                "ASSISTANT_AUDIT_RETENTION_DAYS."
            )
        removed = log.purge(older_than_days=days)
        print(f"removed {removed['turns']} turns and {removed['feedback']} feedback rows")
        return 0
    replayed = log.replay()
    print(f"wrote {replayed} spilled records into the audit trail")
    return 0


def _verify(log: AuditLog, as_json: bool, kept: list[str]) -> int:
    result = log.verify(kept_heads=kept)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "rows": result.rows,
                    "heads": result.heads,
                    "breaks": result.breaks,
                    "unwritten": result.unwritten,
                },
                indent=2,
            )
        )
    elif result.ok:
        counts = ", ".join(f"{n} {name} rows" for name, n in result.rows.items())
        heads = ", ".join(f"{name} {head}" for name, head in result.heads.items())
        print(f"ok: {counts}; chain heads (keep them elsewhere): {heads}")
    else:
        for broken in result.breaks:
            print(f"BROKEN: {broken}")
    if result.unwritten:
        print(
            f"warning: {result.unwritten} records wait in the spill file (written while the "
            "database failed): run `python -m assistant audit replay`.",
            file=sys.stderr,
        )
    return 0 if result.ok else 1
