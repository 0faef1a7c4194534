"""Serve the assistant: ``python app.py`` (ingests ``knowledge/`` first when the store is empty)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any


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
    from tqdm.contrib.logging import logging_redirect_tqdm

    from assistant.config import load_settings
    from assistant.errors import AssistantError
    from assistant.factory import build_web_app
    from assistant.web.serving import Guarded

    bars: list[Any] = []  # a progress bar only when there is something to ingest

    def on_total(files: int) -> None:
        if sys.stderr.isatty():
            bars.append(tqdm(total=files, desc="ingest", unit="file", file=sys.stderr))
        else:  # a log file or a service's journal: two lines, not a bar's frames
            bars.append(_LoggedProgress(files))

    try:
        overrides = {"host": args.host, "port": args.port}  # checked like the variables
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        # Log lines go above the bar, not glued to its end (the bar's handler keeps the level).
        with logging_redirect_tqdm():
            for handler in logging.getLogger().handlers:
                handler.setLevel(logging.INFO)
            app = build_web_app(settings, progress=lambda n: bars[-1].update(n), on_total=on_total)
    except AssistantError as error:
        print(f"app.py: {error}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    host, port = settings.host, settings.port
    # The edge reads X-Forwarded-For itself, from the proxies ASSISTANT_TRUSTED_PROXIES names
    # (security.Policy.client). uvicorn's own reading trusts 127.0.0.1 whatever that says: any
    # client on this machine, or a local tunnel that passes headers on, could name a new
    # address each request and never meet the rate limit.
    # Guarded: deadlines and a size limit on each request's head and body (web/serving.py).
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", proxy_headers=False, http=Guarded
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once it has shut down. Leaving through
    # Python's exit rather than the signal's default lets clean-up at exit run (the advisor's
    # exported client documents are deleted then).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=_warm, args=(server, app.state.services.engine), daemon=True).start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"The assistant is starting at http://{shown}:{port}  (Ctrl+C stops it)", flush=True)
    server.run()
    return 0


class _LoggedProgress:
    """The ingest's progress as log lines, where nobody watches a bar redrawn in place."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()
        files = "file" if total == 1 else "files"
        logging.getLogger("ingest").info("ingest: %d %s to read", total, files)

    def update(self, files: int) -> None:
        self.done += files

    def close(self) -> None:
        seconds = time.monotonic() - self.started
        logging.getLogger("ingest").info(
            "ingest: %d of %d read in %.1f s", self.done, self.total, seconds
        )


def _warm(server: Any, engine: Any) -> None:
    """Load the embedder, the vector index, the tokenizer and the compliance rules once the
    server is up, so the first questions do not wait for them and the start does not either.
    The rules take about 0.45 s of CPU to compile, and first questions arriving together would
    each compile them, holding the interpreter lock for seconds (measured: 40 % of the app's
    CPU in the first seconds of the load bench went to compiling them)."""
    from assistant.compliance import classify_question
    from assistant.text import traditional_in_place

    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        engine.retriever.search("DeepSeek", 1)
        classify_question("DeepSeek 會漲嗎？")  # the rules, and the simplified characters' table
        traditional_in_place("算力")  # the other direction's table, for traditional askers


if __name__ == "__main__":
    sys.exit(main())
