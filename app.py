"""Serve the assistant: ``python app.py`` (ingests ``knowledge/`` first when the store is empty)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="Serve the web app and HTTP API on ASSISTANT_HOST:ASSISTANT_PORT "
        "(default http://127.0.0.1:7860). Without DEEPSEEK_API_KEY it answers with excerpts.",
    )
    parser.add_argument("--host", help="override ASSISTANT_HOST")
    parser.add_argument("--port", type=int, help="override ASSISTANT_PORT")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from assistant.redact import configure_logging

    configure_logging(logging.INFO)  # no credentials from a URL reach a log line
    import uvicorn

    from assistant.config import load_settings
    from assistant.errors import AssistantError
    from assistant.factory import build_web_app

    try:
        settings = load_settings()
        app = build_web_app(settings)
    except AssistantError as error:
        print(f"app.py: {error}", file=sys.stderr)
        return 2
    uvicorn.run(
        app, host=args.host or settings.host, port=args.port or settings.port, log_level="info"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
