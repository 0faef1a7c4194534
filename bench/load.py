"""Load: `python app.py` against the fake model streaming at a human pace, over loopback.

    python bench/load.py [--rate 20] [--duration 60] [--burst 100] [--overload 400] [--pace 40]
                         [--questions distinct|repeat]

The fake model server (``tests/fakellm.py``, in a process of its own) streams every answer at
about ``--pace`` characters a second. ``python app.py`` runs in another process, online
against it, on a fresh copy of ``knowledge/``. This process is the users (``Users``: HTTP/1.1 over
asyncio streams, far cheaper than httpx on the cores the app shares), ``POST /api/chat`` with
``"stream": true``, reading the Server-Sent Events.

1. Steady state: ``--rate`` new conversations a second for ``--duration`` seconds. A
   conversation is a question from the seed and held-out sets (Chinese and English; the model
   quotes ``--sources`` sources, about 10 s of streaming) and, in a share ``--follow-ups`` of
   them, after 2 s of reading, a follow-up with the history (which costs a question-rewrite
   call to the model first, as English questions do). Reported: conversations in flight (the target is
   200), errors (any status but 200, an ``error`` event, no ``done``), answer modes, and per
   turn the time **we add before the model's first token**: from the request leaving the
   client to the model server receiving the turn's first chat request (its arrival time, on
   the same clock). Each question carries a tag such as ``(c12t1)`` so the model server's log
   can be matched to it. Also the client's time to the first streamed sentence (which includes
   the model's own pace), and the app's resident memory (``/proc/PID/status``: VmRSS sampled,
   VmHWM at the end).
2. Burst: ``--burst`` single questions sent at once; all must be answered.
3. Past capacity: ``--overload`` streaming questions at once, more than the app's capacity
   (``ASSISTANT_MAX_CONCURRENT_ANSWERS``, default 256): the excess must get 503 with
   ``Retry-After`` (and the disclosure), nothing else may fail, and the app must still answer
   ``/healthz`` afterwards.
4. The audit log: after the app stops, every ``turn_id`` a client received in a ``done`` event
   must have its row.

Questions (``--questions``): ``distinct`` (the default) tags every question, so no two are
the same text for the embedder and its query-vector cache never hits; ``repeat`` sends the
set's questions verbatim, as users clicking the suggested questions do (the first turns carry
no tag; a model request is matched to the last turn that sent its question before it arrived).
The steady state starts once ``app.py`` has built its Gradio app (several seconds of CPU it
spends after it starts serving), so the CPU per answer is the answers' own; 0 skips the burst
or the overload.

The machine is shared (2 cores for the users, the app and the model server together), so the
load average at the start and end is printed with the figures; they are upper bounds. Each
steady-state turn's send time and model requests are kept in ``bench/out/load/turns.jsonl``
(to set beside the audit rows' per-stage latency).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out" / "load"
FOLLOW_UP = {"zh": "这对算力需求意味着什么？", "en": "What does that mean for demand for compute?"}
TAG = re.compile(r"\((c\d+t\d)\)")


@dataclass
class Turn:
    tag: str
    sent: float
    text: str = ""  # the question as sent when it carries no tag (``--questions repeat``)
    status: int = 0
    first_delta: float | None = None
    done: float | None = None
    mode: str | None = None
    turn_id: str | None = None
    error: str | None = None
    retry_after: str | None = None
    answer: str = ""


@dataclass
class Run:
    turns: list[Turn] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    samples: list[int] = field(default_factory=list)


def questions() -> list[tuple[str, str]]:
    out = []
    for name in ("seed_questions.jsonl", "heldout_questions.jsonl"):
        for line in (ROOT / "tests" / "fixtures" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                out.append((case["lang"], case["question"]))
    return out


def rss_kb(pid: int, field_name: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each of a process's threads so far, by thread id."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):  # the thread ended while listed
            out[int(task.name)] = cpu_seconds_of(task / "stat")
    return out


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_names(pid: int) -> dict[int, str]:
    """Each Python thread's name by thread id (``py-spy dump``); threads without a Python frame
    (the embedder's OpenMP threads, if any) are not named. Empty without py-spy."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {}
    try:
        dump = subprocess.run(
            [spy, "dump", "--json", "--pid", str(pid)], capture_output=True, timeout=60
        )
        return {
            int(t["os_thread_id"]): re.sub(r"[_-]?\d+$", "", t["thread_name"] or "?")
            for t in json.loads(dump.stdout)
            if t.get("os_thread_id")
        }
    except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return {}


def by_thread(
    before: dict[int, float], after: dict[int, float], names: dict[int, str], main: int
) -> dict[str, float]:
    """CPU seconds used between two ``thread_cpu`` readings, summed by thread name."""
    used: dict[str, float] = {}
    for tid, seconds in after.items():
        name = names.get(tid) or ("MainThread" if tid == main else "not Python")
        used[name] = used.get(name, 0.0) + seconds - before.get(tid, 0.0)
    return dict(sorted(used.items(), key=lambda item: -item[1]))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Users:
    """The users' side of HTTP/1.1: ``asyncio`` streams, connections kept alive between turns
    (as httpx's pool kept them), the chunked SSE body read event by event. httpx and h11 cost
    several times more CPU an answer, on the same two cores as the app being measured."""

    def __init__(self, base: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout  # seconds a turn may take, all of it, before the user gives up
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def connection(
        self, fresh: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """A connection, and whether it was kept from an earlier turn."""
        while self._idle and not fresh:
            reader, writer = self._idle.pop()
            if not reader.at_eof():
                return reader, writer, True
            writer.close()  # the server closed it while idle (uvicorn's keep-alive timeout)
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**20)
        return reader, writer, False

    def release(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._idle.append((reader, writer))

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if value:
            headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers


async def ask(
    users: Users,
    path: str,
    text: str,
    history: list[dict[str, str]],
    tag: str,
    tagged: bool = True,
) -> Turn:
    turn = Turn(tag, time.monotonic(), "" if tagged else text)  # the model server's clock too
    body = {"message": f"{text} ({tag})" if tagged else text, "history": history, "stream": True}
    data = json.dumps(body, ensure_ascii=False).encode()
    writer = None
    try:
        async with asyncio.timeout(users.timeout):
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {users.host}:{users.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            reader, writer, kept = await users.connection()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                if not kept:
                    raise
                # The server closed the kept connection as idle just as it was taken, before
                # reading the request (as browsers do, the request goes again, on a new one).
                writer.close()
                reader, writer, _ = await users.connection(fresh=True)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
            turn.status, headers = _head(head)
            if "content-length" in headers:  # a refusal (any status but 200 is one)
                reply = await reader.readexactly(int(headers["content-length"]))
                turn.retry_after = headers.get("retry-after")
                turn.error = reply.decode(errors="replace")[:200] or f"status {turn.status}"
            else:  # chunked: Server-Sent Events, each ending with a blank line
                pending = b""
                while size := int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                    pending += (await reader.readexactly(size + 2))[:-2]
                    *events, pending = pending.split(b"\n\n")
                    for event in events:
                        if event.startswith(b"event: delta\n"):
                            if turn.first_delta is None:
                                turn.first_delta = time.monotonic()
                        elif event.startswith(b"event: done\n"):
                            done = json.loads(event.partition(b"\ndata: ")[2])
                            turn.done = time.monotonic()
                            turn.mode = done["mode"]
                            turn.turn_id = done["turn_id"]
                            turn.answer = done["answer"]
                        elif event.startswith(b"event: error\n"):
                            turn.error = str(
                                json.loads(event.partition(b"\ndata: ")[2]).get("error")
                            )
                await reader.readuntil(b"\r\n")  # the empty trailer after the last chunk
                if turn.status != 200 and turn.error is None:
                    turn.error = f"status {turn.status}"
            if headers.get("connection", "").lower() != "close":
                users.release(reader, writer)
                writer = None
    except TimeoutError:  # before OSError, of which it is a kind
        turn.error = f"no answer within {users.timeout:g} s"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        turn.error = f"{type(error).__name__}: {error}"
    finally:
        if writer is not None:
            writer.close()
    if turn.done is None and turn.error is None:
        turn.error = "the stream ended without a done event"
    return turn


async def conversation(
    users: Users,
    path: str,
    n: int,
    lang: str,
    text: str,
    run: Run,
    follow: bool,
    tagged: bool,
) -> None:
    run.active += 1
    run.peak = max(run.peak, run.active)
    try:
        first = await ask(users, path, text, [], f"c{n}t1", tagged)
        run.turns.append(first)
        if first.done is None or not follow:
            return
        await asyncio.sleep(2.0)  # the reader reads
        history = [
            {"role": "user", "content": text},
            {"role": "assistant", "content": first.answer},
        ]
        run.turns.append(await ask(users, path, FOLLOW_UP[lang], history, f"c{n}t2"))
    finally:
        run.active -= 1


async def steady(
    base: str,
    rate: float,
    duration: float,
    pool: list[tuple[str, str]],
    follow_ups: float,
    tagged: bool = True,
) -> Run:
    run = Run()
    rng = random.Random(7)
    users = Users(base, timeout=180)
    try:
        tasks = []
        started = time.monotonic()
        n = 0
        next_sample = started
        while (now := time.monotonic()) - started < duration:
            while n < (now - started) * rate:
                lang, text = rng.choice(pool)
                tasks.append(
                    asyncio.create_task(
                        conversation(
                            users,
                            "/api/chat",
                            n,
                            lang,
                            text,
                            run,
                            rng.random() < follow_ups,
                            tagged,
                        )
                    )
                )
                n += 1
            if now >= next_sample:
                run.samples.append(run.active)
                next_sample += 1.0
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
    finally:
        users.close()
    return run


async def wave(base: str, count: int, pool: list[tuple[str, str]], prefix: int) -> list[Turn]:
    """``count`` single questions sent at once."""
    rng = random.Random(prefix)
    users = Users(base, timeout=300)
    try:
        jobs = [
            ask(users, "/api/chat", rng.choice(pool)[1], [], f"c{prefix + i}t1")
            for i in range(count)
        ]
        return list(await asyncio.gather(*jobs))
    finally:
        users.close()


def model_calls(fake: str, untagged: Sequence[Turn] = ()) -> dict[str, list[tuple[float, float]]]:
    """For each tag, the model server's chat requests that name it: (arrived, finished).

    A request that names no tag but holds the question of an ``untagged`` turn is that turn's:
    of the turns that sent the same question, the last one sent before the request arrived
    (the same question comes back seconds apart; a turn's requests follow it within one)."""
    calls: dict[str, list[tuple[float, float]]] = {}
    by_text: dict[str, list[Turn]] = {}
    for turn in sorted(untagged, key=lambda t: t.sent):
        by_text.setdefault(turn.text, []).append(turn)
    texts = sorted(by_text, key=len, reverse=True)  # the longest question that fits
    for request in httpx.get(f"{fake}/_fake/requests", timeout=120).json():
        if not request["path"].endswith("/chat/completions") or not request.get("body"):
            continue
        users = [m for m in request["body"]["messages"] if m.get("role") == "user"]
        content = str(users[-1].get("content", "")) if users else ""
        finished = request.get("ended") or request["at"]
        found = TAG.search(content)
        if found:
            calls.setdefault(found.group(1), []).append((request["at"], finished))
            continue
        text = next((t for t in texts if t in content), None)
        before = [t for t in by_text.get(text or "", []) if t.sent <= request["at"]]
        if before:
            calls.setdefault(before[-1].tag, []).append((request["at"], finished))
    return {tag: sorted(pairs) for tag, pairs in calls.items()}


def ours(turn: Turn, calls: list[tuple[float, float]]) -> float:
    """Seconds of the turn spent on our side before the model's answer call arrived: until the
    first model call, plus the gaps between one call's end and the next one's arrival (a
    question rewrite comes first for English questions and follow-ups)."""
    total = calls[0][0] - turn.sent
    for (_, ended), (arrived, _) in itertools.pairwise(calls):
        total += arrived - ended
    return total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(
    name: str, turns: list[Turn], calls: dict[str, list[tuple[float, float]]]
) -> dict[str, Any]:
    ok = [t for t in turns if t.status == 200 and t.done is not None and t.error is None]
    added = [ours(t, calls[t.tag]) * 1000 for t in ok if t.tag in calls]
    to_first = [(calls[t.tag][0][0] - t.sent) * 1000 for t in ok if t.tag in calls]
    first = [(t.first_delta - t.sent) * 1000 for t in ok if t.first_delta]
    modes: dict[str, int] = {}
    for t in ok:
        modes[str(t.mode)] = modes.get(str(t.mode), 0) + 1
    errors = [t for t in turns if t not in ok]
    figures = {
        "turns": len(turns),
        "answered": len(ok),
        "errors": len(errors),
        "statuses": sorted({t.status for t in errors}),
        "modes": modes,
        "no model request (declined before the model)": len(ok) - len(added),
        "added before the model p50/p95/max ms": [
            round(pct(added, 50)),
            round(pct(added, 95)),
            round(max(added, default=float("nan"))),
        ],
        "before the first model call p50/p95 ms": [
            round(pct(to_first, 50)),
            round(pct(to_first, 95)),
        ],
        "client first sentence p50/p95 ms": [round(pct(first, 50)), round(pct(first, 95))],
    }
    print(f"\n== {name}")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    for t in errors[:5]:
        print(f"  error {t.tag}: status {t.status}, {t.error}")
    return figures


def start_fake(pace: float, sources: int) -> tuple[subprocess.Popen[str], str]:
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakellm", "--pace", str(pace), "--sources", str(sources)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    return fake, fake.stdout.readline().strip()


def start_app(work: Path, fake: str, port: int, extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEEPSEEK_", "ASSISTANT_", "CHROMA_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DEEPSEEK_API_KEY="sk-load-bench",
        DEEPSEEK_BASE_URL=fake,
        ASSISTANT_DATA_DIR=str(work / "data"),
        ASSISTANT_KNOWLEDGE_DIR=str(work / "knowledge"),
        ASSISTANT_PORT=str(port),
        # One client (this bench) on one address is all the users: no per-client limit.
        ASSISTANT_RATE_LIMIT="1000000/minute",
        **extra,
    )
    log = (work / "app.log").open("w")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")], cwd=work, env=env, stdout=log, stderr=log, text=True
    )


def wait_up(base: str, app: subprocess.Popen[str], seconds: float = 600) -> None:
    """Until the API answers and the Gradio app, which ``app.py`` builds after it starts
    serving (several seconds of CPU), is built: that start-up is not the answers' cost."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if app.poll() is not None:
            sys.exit(f"app.py exited with {app.returncode}; see {OUT / 'app.log'}")
        try:
            up = httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            if up and httpx.get(f"{base}/config", timeout=5).status_code != 503:
                time.sleep(2.0)  # and the warm-up search (app.py's _warm) has ended
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("app.py did not come up")


def audit_ids(data: Path) -> set[str]:
    from assistant.audit import AuditLog

    log = AuditLog.open(data / "audit.sqlite3")
    try:
        return {str(row["turn_id"]) for row in log.turns(limit=10**9)}
    finally:
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="new conversations a second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of steady state")
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--overload", type=int, default=400)
    parser.add_argument("--pace", type=float, default=40.0, help="model characters a second")
    parser.add_argument(
        "--sources", type=int, default=5, help="sources the fake's answer quotes (its length)"
    )
    parser.add_argument(
        "--follow-ups", type=float, default=0.2, help="share of conversations with a second turn"
    )
    parser.add_argument(
        "--questions",
        choices=("distinct", "repeat"),
        default="distinct",
        help="distinct: every question carries its tag, so no two are the same text for the "
        "embedder (no query-vector cache hit); repeat: the set's questions verbatim, as users "
        "click the suggested ones (the cache serves all but the first of each)",
    )
    parser.add_argument("--port", type=int, default=7911)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for app.py")
    args = parser.parse_args()

    print(f"load average at start: {load_average()} ({os.cpu_count()} cores)")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    shutil.copytree(ROOT / "knowledge", OUT / "knowledge")
    fake, fake_url = start_fake(args.pace, args.sources)
    base = f"http://127.0.0.1:{args.port}"
    extra = dict(item.split("=", 1) for item in args.env)
    app = start_app(OUT, fake_url, args.port, extra)
    pool = questions()
    results: dict[str, Any] = {}
    memory: list[int] = []
    received: list[Turn] = []
    try:
        wait_up(base, app)
        print(
            f"app up (pid {app.pid}): RSS {rss_kb(app.pid) // 1024} MB; "
            f"load average {load_average()}",
            flush=True,
        )

        async def sampled(job: Any) -> Any:
            async def sample() -> None:
                while True:
                    memory.append(rss_kb(app.pid))
                    await asyncio.sleep(1.0)

            sampler = asyncio.create_task(sample())
            try:
                return await job
            finally:
                sampler.cancel()

        cpu = (cpu_seconds(app.pid), cpu_seconds(fake.pid), time.process_time())
        threads = thread_cpu(app.pid)
        tagged = args.questions == "distinct"
        run = asyncio.run(
            sampled(steady(base, args.rate, args.duration, pool, args.follow_ups, tagged))
        )
        used = [
            cpu_seconds(app.pid) - cpu[0],
            cpu_seconds(fake.pid) - cpu[1],
            time.process_time() - cpu[2],
        ]
        threads = by_thread(threads, thread_cpu(app.pid), thread_names(app.pid), app.pid)
        received += run.turns
        in_flight = run.samples[len(run.samples) // 3 :]  # after the ramp-up
        arrivals = model_calls(fake_url, [t for t in run.turns if t.text])
        with (OUT / "turns.jsonl").open("w") as out:  # each turn's times, for a closer look
            for t in run.turns:
                times = {"sent": t.sent, "model calls": arrivals.get(t.tag, [])}
                out.write(json.dumps({"tag": t.tag, "status": t.status, **times}) + "\n")
        results["steady"] = report(
            f"steady state: {args.rate:g} new conversations/s for {args.duration:g} s, "
            f"{args.questions} questions",
            run.turns,
            arrivals,
        )
        results["steady"]["conversations in flight (median / peak)"] = [
            statistics.median(in_flight) if in_flight else 0,
            run.peak,
        ]
        print(
            f"  conversations in flight after ramp-up: median {results['steady']['conversations in flight (median / peak)'][0]}, peak {run.peak}"
        )
        print(
            f"  app RSS: median {statistics.median(memory) // 1024} MB, max {max(memory) // 1024} MB"
        )
        answered = sum(1 for t in run.turns if t.done is not None)
        per_turn = [round(1000 * seconds / max(1, answered), 1) for seconds in used]
        results["steady"]["CPU ms per answered question: app / model server / users"] = per_turn
        print(
            f"  CPU ms per answered question: app {per_turn[0]}, model server {per_turn[1]}, "
            f"users {per_turn[2]} (refusals included in the totals)"
        )
        split = {name: round(1000 * s / max(1, answered), 1) for name, s in threads.items()}
        results["steady"]["app CPU ms per answered question, by thread"] = split
        print(
            "  app CPU ms per answered question, by thread: "
            + ", ".join(f"{name} {ms}" for name, ms in split.items() if ms >= 0.05)
        )
        print(f"  load average: {load_average()}")

        if args.burst:
            burst = asyncio.run(sampled(wave(base, args.burst, pool, 100_000)))
            received += burst
            results["burst"] = report(
                f"burst: {args.burst} questions at once", burst, model_calls(fake_url)
            )

        if args.overload:
            over = asyncio.run(sampled(wave(base, args.overload, pool, 200_000)))
            received += over
            refused = [t for t in over if t.status == 503]
            results["overload"] = report(
                f"past capacity: {args.overload} questions at once",
                [t for t in over if t.status != 503],
                model_calls(fake_url),
            )
            with_retry = sum(
                1 for t in refused if t.retry_after and "disclosure" in (t.error or "")
            )
            print(
                f"  refused with 503: {len(refused)} "
                f"({with_retry} with Retry-After and the disclosure)"
            )
            health = httpx.get(f"{base}/healthz", timeout=10)
            print(f"  /healthz afterwards: {health.status_code} {health.json()}")
            results["overload"]["refused"] = len(refused)
    finally:
        peak = rss_kb(app.pid, "VmHWM")
        app.send_signal(signal.SIGINT)
        try:
            app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            app.kill()
        fake.terminate()
        fake.wait(timeout=30)
    print(f"\napp peak RSS (VmHWM): {peak // 1024} MB")
    shown = {t.turn_id for t in received if t.turn_id}
    rows = audit_ids(OUT / "data")
    missing = shown - rows
    print(
        f"audit: {len(shown)} answers shown, {len(rows)} rows, {len(missing)} answers without a row"
    )
    print(f"load average at end: {load_average()}")
    (OUT / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
