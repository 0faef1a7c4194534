"""Serve the assistant: ``python app.py`` (ingests ``knowledge/`` first when the store is empty)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
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
    from tqdm import tqdm

    from assistant.config import load_settings
    from assistant.errors import AssistantError
    from assistant.factory import build_web_app

    try:
        settings = load_settings()
        with tqdm(desc="ingest", unit="file", disable=None, file=sys.stderr, delay=0.5) as bar:
            app = build_web_app(
                settings, progress=bar.update, on_total=lambda n: bar.reset(total=n)
            )
    except AssistantError as error:
        print(f"app.py: {error}", file=sys.stderr)
        return 2
    # The embedder and the BM25 index load on first use: load them now, while the page loads.
    engine = app.state.services.engine
    threading.Thread(target=engine.retriever.search, args=("DeepSeek", 1), daemon=True).start()
    host, port = args.host or settings.host, args.port or settings.port
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"The assistant is starting at http://{shown}:{port}  (Ctrl+C stops it)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
