"""Ingest cost on a real corpus: the pipeline against the embedder alone, and an unchanged re-run.

    python bench/ingest.py [--dataset ../shared/eval-data/cmrc2018_dev.json] [--sample 200] [--keep]

1. Every context of the SQuAD file (CMRC dev: 848) becomes a file in a fresh temporary
   knowledge folder under ``bench/out/``; the real pipeline (``build_store`` + ``sync_knowledge``:
   loading, chunking, embedding, Chroma writes, the BM25 index) ingests it in-process into a
   fresh store. The e5 model is loaded before the clock starts and its load time printed apart,
   so the figure is the pipeline's steady cost. Peak RSS is the process's ``ru_maxrss``.
2. The embedder alone (``E5Embedder.embed_documents``, same batch size) on a random sample of
   the stored chunk texts: the ceiling the pipeline can approach. The pipeline's share is its
   throughput over the embedder's, by chunks and, since the sample's lengths differ a little
   from the corpus's, by characters.
3. ``python ingest.py --json DIR`` in a fresh subprocess on the unchanged folder, with the same
   data directory and working directory (so article keys match): its wall-clock seconds, and
   for comparison what a run with work to do pays before it starts: the interpreter and the
   full pipeline's imports (``python -c "import assistant.factory"``).

Targets: pipeline ≥ 75 % of the embedder's throughput; unchanged re-run < 3 s. The machine is
shared, so the load average at the start is printed with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings, load_settings  # noqa: E402
from assistant.embeddings import E5Embedder  # noqa: E402
from assistant.eval import load_squad, write_contexts  # noqa: E402
from assistant.factory import build_store, sync_knowledge  # noqa: E402
from assistant.store import KnowledgeStore  # noqa: E402

OUT = ROOT / "bench" / "out"
CMRC = ROOT.parent / "shared" / "eval-data" / "cmrc2018_dev.json"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_ingest(settings: Settings, embedder: E5Embedder) -> tuple[KnowledgeStore, int, float]:
    """(store, files ingested, seconds) for one in-process sync of the knowledge folder."""
    started = time.perf_counter()
    with contextlib.chdir(ROOT):  # the subprocess re-run uses the same keys
        store = build_store(settings, embedder)
        report = sync_knowledge(settings, store)
    seconds = time.perf_counter() - started
    if not report.ok:
        print(report.summary(), file=sys.stderr)
    return store, len(report.added), seconds


def stored_texts(store: KnowledgeStore) -> list[str]:
    """Every chunk's embedded text (heading path + text), as the pipeline embedded it."""
    return [str(doc) for doc in store.snapshot().collection.get(include=["documents"])["documents"]]


def embedder_rate(embedder: E5Embedder, texts: Sequence[str]) -> tuple[float, float]:
    """(chunks/s, characters/s) of the embedder alone on ``texts``."""
    started = time.perf_counter()
    embedder.embed_documents(list(texts))
    seconds = time.perf_counter() - started
    return len(texts) / seconds, sum(map(len, texts)) / seconds


def subprocess_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHROMA_")}
    env["ASSISTANT_DATA_DIR"] = str(settings.data_dir)
    env["ASSISTANT_KNOWLEDGE_DIR"] = str(settings.knowledge_dir)
    env["PYTHONPATH"] = str(ROOT)
    return env


def wall_clock(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stdout.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=CMRC, help="SQuAD v1 JSON of contexts")
    parser.add_argument("--sample", type=int, default=200, help="chunks for the embedder alone")
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    return parser


def run(args: argparse.Namespace, tmp: Path) -> None:
    contexts = load_squad(args.dataset).contexts
    write_contexts(contexts, tmp / "knowledge")
    settings = load_settings(
        data_dir=tmp / "data", knowledge_dir=tmp / "knowledge", api_key=None, chroma_host=None
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    embedder = E5Embedder(batch_size=settings.embed_batch_size)
    started = time.perf_counter()
    embedder.embed_query("预热")
    print(f"e5 model load: {time.perf_counter() - started:.1f} s (not counted below)")

    store, files, seconds = timed_ingest(settings, embedder)
    texts = stored_texts(store)
    chunks, chars = len(texts), sum(map(len, texts))
    print(
        f"pipeline: {files} files, {chunks} chunks in {seconds:.1f} s = {chunks / seconds:.2f} "
        f"chunks/s ({chars / seconds:.0f} chars/s); peak RSS {peak_rss_mb():.0f} MB"
    )

    sample = random.Random(0).sample(texts, min(args.sample, len(texts)))
    rate, char_rate = embedder_rate(embedder, sample)
    print(
        f"embedder alone: {len(sample)} chunks = {rate:.2f} chunks/s ({char_rate:.0f} chars/s; "
        f"sample mean {sum(map(len, sample)) / len(sample):.0f} chars, corpus {chars / chunks:.0f})"
    )
    print(
        f"pipeline share: {chunks / seconds / rate:.0%} by chunks, "
        f"{chars / seconds / char_rate:.0%} by characters (target ≥ 75%)"
    )

    env = subprocess_env(settings)
    rerun, output = wall_clock(["ingest.py", "--json", str(settings.knowledge_dir)], env)
    floor, _ = wall_clock(["-c", "import assistant.factory"], env)
    summary = json.loads(output.splitlines()[-1])
    print(
        f"unchanged re-run (subprocess): {rerun:.2f} s wall-clock, {summary['unchanged']} "
        f"unchanged, {summary['added']} added (target < 3 s); a run with work to do imports "
        f"for {floor:.2f} s first"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ingest-", dir=OUT))
    try:
        run(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
