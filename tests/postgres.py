"""A real PostgreSQL server for the tests: Debian's binaries, a temporary cluster, a free port.

``postgres_server`` (session) runs ``initdb`` and ``pg_ctl`` as an unprivileged user (``nobody``
when the tests run as root, as PostgreSQL refuses root) in a temporary directory, listening on
127.0.0.1 only, and stops it at the end. ``postgres_url`` (per test) creates a fresh database on
it and gives its SQLAlchemy URL. Missing binaries are a failure, not a skip: CI installs the
``postgresql`` package (``.ci/run``), and a skipped audit test would hide a broken trail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # newest first


@dataclass(frozen=True)
class PostgresServer:
    bin: Path
    data: Path
    port: int
    log: Path
    run_as: tuple[str, ...]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self, *, durable: bool = False) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data.parent}"
        if not durable:  # tests need no crash safety: skip the disk flushes
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self.ctl("-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "-w", "stop")

    def create_database(self) -> str:
        name = f"audit_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """A fresh cluster in a temporary directory, started, and removed afterwards."""
    if not BIN_DIRS or not (BIN_DIRS[0] / "initdb").exists():
        raise FileNotFoundError(
            "PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin): "
            "apt-get install postgresql. The audit trail is tested on a real server."
        )
    root = Path(tempfile.mkdtemp(prefix="audit-pg-"))
    run_as: tuple[str, ...] = ()
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        shutil.chown(root, "nobody")
        run_as = ("runuser", "-u", "nobody", "--")
    server = PostgresServer(BIN_DIRS[0], root / "data", _free_port(), root / "server.log", run_as)
    try:
        initdb = [str(server.bin / "initdb"), "-D", str(server.data), "-U", "postgres"]
        subprocess.run(
            [*run_as, *initdb, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        server.start(durable=durable)
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with running_server() as server:
            yield server
    except FileNotFoundError as error:
        pytest.fail(str(error))  # a failure, not a skip: CI must run these on a real server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.url(postgres_server.create_database())
