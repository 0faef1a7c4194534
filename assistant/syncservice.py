"""Who runs a sync: this process, or the running app that holds the store.

Only one process may open the embedded store at a time (``storelock``), and the app holds it
for as long as it serves. So ``ingest.py`` does not wait for the app: it asks the app to sync,
over a Unix socket in the data folder. A socket file rather than an HTTP route because it is
reachable only from this machine, by users the file's permissions let in, and adds nothing to
the public HTTP surface (no route to guard with keys, CORS or rate limits). The app runs the
sync on its own store: a new generation is written beside the one it serves and swapped in
when complete, so questions are answered throughout, and the e5 worker serves their queries
between the sync's passages.

Protocol, one JSON object per line. Request: ``{"paths": [absolute], "rebuild": bool, "root":
absolute working directory of the requester}``. Replies: ``{"total": n}`` and ``{"progress": n}``
as files are done, then ``{"report": {...}}`` or ``{"error": "sentence"}``. A requester that goes
away (Ctrl-C, killed) does not stop the sync: the app completes it and publishes it.

Without an app, ``ingest.py`` takes the store itself, waiting while another ingest holds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AssistantError, IngestError
from .inventory import FileWarning, SyncReport
from .storelock import read_owner, try_lock

if TYPE_CHECKING:
    from .config import Settings
    from .store import KnowledgeStore

log = logging.getLogger(__name__)
_SOCKET = "store.sock"
_MAX_REQUEST = 1_000_000  # bytes: a list of paths, not a corpus


def socket_path(settings: Settings) -> Path:
    """The app's socket: in the data folder, or in the temp folder when that path is too long
    for a Unix socket (about 100 bytes)."""
    path = settings.data_dir.resolve() / _SOCKET
    if len(str(path).encode()) < 100:
        return path
    digest = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"assistant-{digest}.sock"


def report_to_wire(report: SyncReport) -> dict[str, Any]:
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "chunks": report.chunks,
        "failed": [{"path": e.path, "reason": e.reason} for e in report.failed],
        "warnings": [{"path": w.path, "message": w.message} for w in report.warnings],
    }


def report_from_wire(data: dict[str, Any]) -> SyncReport:
    return SyncReport(
        added=list(data["added"]),
        updated=list(data["updated"]),
        unchanged=list(data["unchanged"]),
        removed=list(data["removed"]),
        chunks=int(data["chunks"]),
        failed=[IngestError(str(e["path"]), str(e["reason"])) for e in data["failed"]],
        warnings=[FileWarning(str(w["path"]), str(w["message"])) for w in data["warnings"]],
    )


class SyncServer:
    """The app's side: takes sync requests on a Unix socket and runs them on its store."""

    def __init__(self, settings: Settings, store: KnowledgeStore) -> None:
        self.settings = settings
        self.store = store
        self.path = socket_path(settings)
        # We hold the store's lock, so a socket file here is a dead holder's: replace it.
        self.path.unlink(missing_ok=True)
        self._server = _Server(str(self.path), _handler_for(self))
        self.path.chmod(0o600)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sync-server", daemon=True
        )

    def start(self) -> SyncServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.path.unlink(missing_ok=True)

    def run(self, request: dict[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
        from .factory import sync_knowledge

        try:
            paths = [Path(str(p)) for p in request["paths"]]
            root = Path(str(request["root"]))
            rebuild = bool(request.get("rebuild"))
        except (KeyError, TypeError):
            send({"error": "The sync request was malformed; use ingest.py."})
            return
        log.info("Syncing %s for ingest.py.", ", ".join(map(str, paths)))
        try:
            report = sync_knowledge(
                self.settings,
                self.store,
                paths,
                rebuild=rebuild,
                root=root,
                progress=lambda n: send({"progress": n}),
                on_total=lambda n: send({"total": n}),
            )
        except AssistantError as error:
            send({"error": str(error)})
            return
        except Exception as error:  # a bug or a broken store: the log has the traceback
            log.exception("The sync requested by ingest.py failed.")
            send(
                {"error": f"The app could not complete the sync ({type(error).__name__}: {error})."}
            )
            return
        log.info(report.summary())
        send({"report": report_to_wire(report)})


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _handler_for(owner: SyncServer) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            gone = False

            def send(message: dict[str, Any]) -> None:
                nonlocal gone
                if gone:
                    return
                try:
                    self.wfile.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
                    self.wfile.flush()
                except OSError:  # the requester went away; the sync goes on
                    gone = True

            try:
                request = json.loads(self.rfile.readline(_MAX_REQUEST))
            except ValueError:
                send({"error": "The sync request was not JSON; use ingest.py."})
                return
            owner.run(request if isinstance(request, dict) else {}, send)

    return Handler


def request_sync(
    path: str,
    paths: Sequence[Path],
    *,
    rebuild: bool,
    progress: Callable[[int], None],
    on_total: Callable[[int], None],
) -> SyncReport:
    """Ask the app listening on ``path`` to sync; raises OSError (or ValueError, for a reply cut
    mid-line) if the app is not there or goes away."""
    request = {
        "paths": [str(p.resolve()) for p in paths],
        "rebuild": rebuild,
        "root": str(Path.cwd().resolve()),
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall(json.dumps(request).encode() + b"\n")
        with conn.makefile("r", encoding="utf-8") as replies:
            for line in replies:
                message = json.loads(line)
                if "total" in message:
                    on_total(int(message["total"]))
                elif "progress" in message:
                    progress(int(message["progress"]))
                elif "report" in message:
                    return report_from_wire(message["report"])
                elif "error" in message:
                    raise AssistantError(str(message["error"]))
    raise ConnectionError("The app closed the connection before the sync completed.")


def sync_anywhere(
    settings: Settings,
    paths: Sequence[Path],
    *,
    rebuild: bool,
    progress: Callable[[int], None],
    on_total: Callable[[int], None],
    notice: Callable[[str], None],
) -> SyncReport:
    """Sync here when the store is free, through the app when it holds the store, and wait
    while another ingest holds it. ``notice`` tells the user which one happens."""
    if settings.chroma_host:  # a server: any number of processes may write
        return _sync_here(settings, paths, None, rebuild, progress, on_total)
    told: set[int] = set()
    while True:
        lock = try_lock(settings.data_dir, "ingest")
        if lock is not None:
            return _sync_here(settings, paths, lock, rebuild, progress, on_total)
        owner = read_owner(settings.data_dir)
        if owner is not None and owner.role == "app" and owner.socket:
            if owner.pid not in told:
                notice(f"The store is open in {owner.describe()}: it runs this sync.")
                told.add(owner.pid)
            try:
                return request_sync(
                    owner.socket, paths, rebuild=rebuild, progress=progress, on_total=on_total
                )
            except (OSError, ValueError):  # refused, reset, cut mid-line: the app went away
                notice(f"{owner.describe()} stopped before the sync completed; trying again.")
                told.discard(owner.pid)
        elif owner is not None and owner.pid not in told:
            notice(f"Waiting for {owner.describe()} to release the store…")
            told.add(owner.pid)
        time.sleep(0.2)


def _sync_here(
    settings: Settings,
    paths: Sequence[Path],
    lock: Any,
    rebuild: bool,
    progress: Callable[[int], None],
    on_total: Callable[[int], None],
) -> SyncReport:
    from .factory import build_store, sync_knowledge

    with build_store(settings, lock=lock) as store:
        return sync_knowledge(
            settings, store, paths, rebuild=rebuild, progress=progress, on_total=on_total
        )
