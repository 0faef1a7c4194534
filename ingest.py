"""Sync source articles into the knowledge store: ``python ingest.py [PATH ...] [--rebuild] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.inventory import SyncReport


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingest.py",
        description="Sync articles (.txt .md .html .pdf .docx) into the knowledge store. "
        "Unchanged files are skipped, changed ones re-embedded, deleted ones removed.",
        epilog="Exit status: 0 all ingested, 1 some files refused (the rest ingested), 2 usage error.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or folders to sync (default: the knowledge folder, ASSISTANT_KNOWLEDGE_DIR)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the store and re-embed everything"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON summary object on stdout"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Light imports first: a run with nothing to do is answered from file hashes and the
    # record the last complete sync left, without loading Chroma, LangChain or the embedder.
    from assistant.config import load_settings
    from assistant.inventory import SyncRecord

    try:
        settings = load_settings()
        paths = list(args.paths) or [settings.knowledge_folder()]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            print(f"ingest.py: no such file or folder: {', '.join(missing)}", file=sys.stderr)
            return 2
        report: SyncReport | None = None
        if not args.rebuild:
            report = SyncRecord(settings).unchanged(paths)
        if report is None:
            report = _sync(settings, paths, rebuild=args.rebuild)
    except AssistantError as error:
        print(f"ingest.py: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ingest.py: interrupted; the store is usable, run again to finish.", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
    return 0 if report.ok else 1


def _sync(settings: Settings, paths: list[Path], *, rebuild: bool) -> SyncReport:
    from tqdm import tqdm

    from assistant.syncservice import sync_anywhere

    with tqdm(desc="ingest", unit="file", disable=None, file=sys.stderr) as bar:
        return sync_anywhere(
            settings,
            paths,
            rebuild=rebuild,
            progress=bar.update,
            on_total=lambda n: bar.reset(total=n),
            notice=lambda text: print(f"ingest.py: {text}", file=sys.stderr),
        )


if __name__ == "__main__":
    sys.exit(main())
