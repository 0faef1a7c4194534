"""The chat model's stream reader alone: CPU per streamed answer, many answers at once.

    python bench/llm_stream.py [--streams 100] [--rounds 3] [--pace 40] [--sources 5]

The fake model server (``tests/fakellm.py``) runs in a process of its own and streams every
answer at ``--pace`` characters a second, three characters a chunk, as ``bench/load.py`` has it.
This process reads ``--streams`` answers at once through ``OpenAICompatibleChat.stream``, each
in a thread of its own (as the web app's answer threads do), ``--rounds`` times in a row, and
prints this process's CPU time per answer: what the stream reader costs, without retrieval,
checks or the web edge. Also the connections the model server saw opened (the client ports of
its requests): after the first round the requests reuse the connections the first opened.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_core.messages import HumanMessage  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.llm import OpenAICompatibleChat  # noqa: E402
from assistant.modelcalls import ModelCall  # noqa: E402

SOURCES = "\n\n".join(
    f"[{n}] 来源{n}指出，DeepSeek的模型把训练和推理的成本压低之后，更多的企业开始部署大模型，"
    "推理调用量成倍增长，数据中心对GPU和电力的需求因此没有减少，反而在持续上升。第二句话是补充。"
    for n in range(1, 6)
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pace", type=float, default=40.0)
    parser.add_argument("--sources", type=int, default=5)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakellm",
            *("--pace", str(args.pace)),
            *("--sources", str(args.sources)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    url = fake.stdout.readline().strip()
    try:
        settings = Settings(api_key="sk-bench", base_url=url, _env_file=None)  # type: ignore[call-arg]
        chat = OpenAICompatibleChat(settings)
        messages = [HumanMessage(f"算力需求会减少吗？\n\n{SOURCES}")]
        chat.complete(messages, deadline=time.monotonic() + 60)  # warm the client
        texts: list[str] = []
        calls: list[ModelCall] = []
        failures: list[BaseException] = []

        def one() -> None:
            try:
                texts.append(chat.complete(messages, deadline=time.monotonic() + 120, calls=calls))
            except BaseException as error:  # counted and shown
                failures.append(error)

        cpu, wall = time.process_time(), time.monotonic()
        for _ in range(args.rounds):
            threads = [threading.Thread(target=one) for _ in range(args.streams)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        with urllib.request.urlopen(f"{url}/_fake/requests") as reply:
            ports = {r["port"] for r in json.load(reply) if r["path"].endswith("/completions")}
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    chars = sum(len(t) for t in texts) / max(1, len(texts))
    print(
        f"{len(texts)} answers ({chars:.0f} characters each, ~{chars / 3:.0f} chunks), "
        f"{len(failures)} failures, in {wall:.1f} s; {len(ports)} connections opened"
    )
    print(f"CPU per streamed answer: {1000 * cpu / max(1, len(texts)):.1f} ms")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for error in failures[:3]:
        print("failure:", repr(error))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
