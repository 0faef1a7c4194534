"""One process at a time opens the embedded store: a file lock, and a note of who holds it.

Chroma documents its embedded ``PersistentClient`` as not process-safe, and it writes its
database even when it only reads (measured: opening a store and querying it rewrote
``chroma.sqlite3``). So every process that opens the embedded store first takes an exclusive
``flock`` on ``<data dir>/store.lock`` and keeps it while the store is open, and writes into
that file who it is: its pid, its role and, for the app, the socket it takes sync requests on
(``syncserver``). Whoever finds the lock taken reads the note and decides: ``ingest.py`` hands
its sync to a running app, or waits for another ingest to finish; the CLI and a second app
are told who holds the store.

The kernel drops an ``flock`` when its process dies, SIGKILL included, so a crash never leaves
the store locked; a note left behind by a dead holder is simply overwritten by the next one.
Within one process, every store object on the same folder shares one hold (a count of users),
since Chroma itself shares one client per folder inside a process.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from .errors import StoreBusyError

LOCK_FILE = "store.lock"
_POLL = 0.2  # seconds between attempts while waiting for another holder


@dataclass(frozen=True)
class Owner:
    """Who holds a store: the note in the lock file."""

    pid: int
    role: str  # "app", "ingest" or "reader" (the CLI, an evaluation, a test)
    socket: str | None = None  # where a running app takes sync requests

    def describe(self) -> str:
        name = {"app": "app.py", "ingest": "ingest.py"}.get(self.role, "another process")
        return f"{name} (pid {self.pid})"


@dataclass
class _Hold:
    file: IO[str]
    owner: Owner
    users: int


_holds: dict[Path, _Hold] = {}
_holds_lock = threading.Lock()


def lock_path(data_dir: Path) -> Path:
    return data_dir.resolve() / LOCK_FILE


def read_owner(data_dir: Path) -> Owner | None:
    """The note of the current holder, or None when it cannot be read (being rewritten)."""
    try:
        note = json.loads(lock_path(data_dir).read_text(encoding="utf-8"))
        return Owner(int(note["pid"]), str(note["role"]), note.get("socket"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class StoreLock:
    """This process's hold on one data folder's store; ``release`` when done with it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._released = False

    @property
    def owner(self) -> Owner:
        with _holds_lock:
            return _holds[self.path].owner

    def announce(self, *, role: str, socket: str | None = None) -> None:
        """Rewrite the note (the app announces its socket once it listens)."""
        with _holds_lock:
            hold = _holds[self.path]
            hold.owner = Owner(os.getpid(), role, socket)
            _write_note(hold)

    def release(self) -> None:
        with _holds_lock:
            if self._released:
                return
            self._released = True
            hold = _holds[self.path]
            hold.users -= 1
            if hold.users == 0:
                del _holds[self.path]
                hold.file.close()  # closing the descriptor drops the flock


def _write_note(hold: _Hold) -> None:
    hold.file.seek(0)
    hold.file.truncate()
    hold.file.write(json.dumps(asdict(hold.owner)))
    hold.file.flush()


def try_lock(data_dir: Path, role: str) -> StoreLock | None:
    """Take the store if nobody else has it (or this process already does); never waits."""
    path = lock_path(data_dir)
    with _holds_lock:
        if path in _holds:
            _holds[path].users += 1
            return StoreLock(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        hold = _Hold(handle, Owner(os.getpid(), role), 1)
        _write_note(hold)
        _holds[path] = hold
        return StoreLock(path)


def lock_store(
    data_dir: Path,
    role: str,
    *,
    wait_for: Callable[[Owner | None], bool],
    on_wait: Callable[[Owner | None], None] | None = None,
) -> StoreLock:
    """Take the store, waiting while ``wait_for(holder)`` says the holder is worth waiting for.

    Raises ``StoreBusyError`` naming the holder as soon as ``wait_for`` says no.
    """
    told = False
    while True:
        lock = try_lock(data_dir, role)
        if lock is not None:
            return lock
        owner = read_owner(data_dir)
        if not wait_for(owner):
            raise StoreBusyError(busy_message(data_dir, owner))
        if not told and on_wait is not None and owner is not None:
            on_wait(owner)
            told = True
        time.sleep(_POLL)


def busy_message(data_dir: Path, owner: Owner | None) -> str:
    holder = owner.describe() if owner else "another process"
    if owner is not None and owner.role == "app":
        hint = (
            "ask it through its HTTP API instead (POST /api/chat for answers, GET /api/thesis "
            "for the argument maps), stop it first, "
            "or use a Chroma server (CHROMA_HOST) that several processes may share."
        )
    else:
        hint = "wait for it to finish, or use a Chroma server (CHROMA_HOST)."
    return (
        f"The knowledge store in {data_dir} is open in {holder}; the embedded store may be "
        f"opened by one process at a time: {hint}"
    )


def waits_for_ingest(owner: Owner | None) -> bool:
    """The default patience: wait for an ingest (it ends), not for an app (it does not)."""
    return owner is None or owner.role != "app"
