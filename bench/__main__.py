"""Run every benchmark and write bench/RESULTS.md: ``python -m bench [--quick]`` from the repository root.

Everything runs here, against 127.0.0.1 only: index builds with both
embedding backends, ``govlive eval`` with each, the ONNX agreement check,
matching throughput in process, a real ``govlive serve`` under the mixed
stream at 50 and 200 items/s and stepped up to the most it sustains, RSS at
idle and under load, kill -9 mid-stream, and the FAISS/BM25 scale figures.
Every load is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE, REPO_ROOT

from .crash import crash_run
from .server import ServeProcess
from .stream import MixedStream, run_load

BACKENDS = ("sentence-transformers", "onnx-int8")
TEST_SET = REPO_ROOT / "corpus" / "eval" / "test.jsonl"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_measured(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> tuple[float, float, str]:
    """Run a command; (wall seconds, peak RSS MiB of it and its children, stdout)."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0.0
    watched = psutil.Process(proc.pid)
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                rss = sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)])
                peak = max(peak, rss / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate(timeout=timeout)
    stop.set()
    watcher.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{err[-3000:]}")
    return time.monotonic() - started, peak, out


def govlive(data_dir: Path, backend: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "--data-dir", str(data_dir), "--embedding-backend", backend, *args]


def build_and_eval(work: Path) -> dict:
    """A from-scratch index build and `govlive eval` with each backend, and the ONNX agreement check."""
    out = {}
    for backend in BACKENDS:
        data_dir = work / backend
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        figures = {}
        if backend == "onnx-int8":
            log("exporting the model to ONNX (int8)")
            seconds, peak, _ = run_measured(govlive(data_dir, backend, "model", "export-onnx"))
            figures["export_s"] = round(seconds, 1)
        log(f"building the index with {backend}")
        seconds, peak, stdout = run_measured(govlive(data_dir, backend, "index", "build", "--quiet"))
        built = json.loads(stdout)
        figures.update(build_wall_s=round(seconds, 1), build_s=built["seconds"], build_peak_rss_mb=round(peak), faiss=built["faiss"],
                       vectors=built["vectors"])
        log(f"evaluating with {backend}")
        _, _, stdout = run_measured(govlive(data_dir, backend, "eval", str(TEST_SET), "--json"))
        report = json.loads(stdout)
        figures["eval"] = report
        out[backend] = figures
    log("checking ONNX vectors against sentence-transformers")
    _, _, stdout = run_measured(govlive(work / "onnx-int8", "onnx-int8", "model", "check-onnx"))
    out["agreement"] = json.loads(stdout)
    return out


def matching_throughput(data_dir: Path, backend: str, *, comments: int) -> dict:
    """In process, no HTTP: unique questions per second, and mixed comments per second with the repeat cache."""
    from assistant.bank.store import AnswerBank
    from assistant.service.context import open_matcher
    from assistant.settings import Settings

    settings = Settings(data_dir=data_dir, embedding_backend=backend)
    matcher = open_matcher(settings, AnswerBank.load(settings.bank_dir))
    room = Rooms.read(EXAMPLE_ROOMS_FILE).rooms[0]
    stream = MixedStream([room], None, seed=11)
    questions = [stream.pools.text("question") for _ in range(comments)]
    matcher.match(questions[:64])  # warm up the model
    started = time.perf_counter()
    for i in range(64, len(questions), 64):
        matcher.match(questions[i:i + 64], top_k=3)
    q_rate = (len(questions) - 64) / (time.perf_counter() - started)
    mixed = [i.text for i in stream.items(int(comments * 1.6)) if i.kind not in ("like", "gift")]
    started = time.perf_counter()
    for i in range(0, len(mixed), 64):
        matcher.match(mixed[i:i + 64], top_k=3)
    m_rate = len(mixed) / (time.perf_counter() - started)
    return {"questions_per_s": round(q_rate, 1), "mixed_comments_per_s": round(m_rate, 1), "cache": matcher.embedder.stats()}


def data_dir_sharing(work: Path, name: str, built: Path) -> Path:
    """A fresh data dir (own database) using the index and model export built in ``built``."""
    directory = work / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / "index").symlink_to((built / "index").resolve())
    if (built / "models").exists():
        (directory / "models").symlink_to((built / "models").resolve())
    return directory


class RssSampler:
    """Peak RSS of the server while a load runs."""

    def __init__(self, server: ServeProcess):
        self.server, self.peak, self._stop = server, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.server.rss_mb())
            except psutil.Error:
                pass
            time.sleep(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def load_figures(result, rss_peak: float) -> dict:
    return {
        "rate": result.rate, "achieved": round(result.achieved_rate, 1), "seconds": round(result.seconds, 1),
        "comments": result.comments_sent, "acked": result.acked_comments, "overlay_events": len(result.overlay_ms),
        "overlay_ms": result.percentiles(result.overlay_ms), "push_ms": result.percentiles(result.push_ms),
        "backlog_growth_per_s": round(result.backlog_growth_per_second(), 1),
        "max_backlog": max((p for _, p in result.backlog), default=0), "drain_s": result.drain_seconds,
        "errors": result.errors + result.refused_pushes, "sustained": result.sustained(), "rss_peak_mb": round(rss_peak),
    }


def service_figures(work: Path, built: Path, backend: str, *, seconds: float, steps: list[float]) -> dict:
    rooms = [Rooms.read(EXAMPLE_ROOMS_FILE).get(r) for r in ("city", "county-1", "county-2")]
    server = ServeProcess(data_dir_sharing(work, f"serve-{backend}", built), settings={"GOVLIVE_EMBEDDING_BACKEND": backend})
    out: dict = {"backend": backend}
    out["start_s"] = round(server.start(), 1)
    try:
        time.sleep(2)
        out["rss_idle_mb"] = round(server.rss_mb())
        stream = MixedStream(rooms, server.secrets, seed=5)
        # Warm-up: the first minute of a room fills the repeat and token caches.
        asyncio.run(run_load(server, rooms, rate=100, seconds=min(seconds, 10), stream=stream))
        runs = []
        for rate in [50.0, 200.0, *[s for s in steps if s not in (50.0, 200.0)]]:
            log(f"{backend}: {rate:.0f} items/s for {seconds:.0f} s")
            with RssSampler(server) as rss:
                result = asyncio.run(run_load(server, rooms, rate=rate, seconds=seconds, stream=stream))
            runs.append(load_figures(result, rss.peak))
            server.wait_drained()
            if rate > 200 and not result.sustained():
                break
        out["runs"] = runs
        sustained = [r["rate"] for r in runs if r["sustained"]]
        out["max_sustained_rate"] = max(sustained) if sustained else None
        out["rss_idle_after_mb"] = round(server.rss_mb())
    finally:
        server.stop()
    return out


def crash_figures(work: Path, built: Path, backend: str, *, rate: float, seconds: float) -> dict:
    rooms = [Rooms.read(EXAMPLE_ROOMS_FILE).get(r) for r in ("city", "county-1", "county-2")]
    server = ServeProcess(data_dir_sharing(work, "crash", built), settings={"GOVLIVE_EMBEDDING_BACKEND": backend})
    server.start()
    try:
        return asyncio.run(crash_run(server, rooms, rate=rate, seconds=seconds, kill_after=seconds * 0.4)).as_dict()
    finally:
        server.stop()


def scale_section(built: Path, backend: str, embed_rate: float, sizes) -> list[dict]:
    import numpy as np

    from indexer.embedder import open_embedder
    from assistant.settings import Settings

    from .scale import scale_figures

    settings = Settings(data_dir=built, embedding_backend=backend)
    stream = MixedStream(Rooms.read(EXAMPLE_ROOMS_FILE).rooms[:1], None, seed=13)
    texts = [stream.pools.text("question") for _ in range(1000)]
    vectors = np.asarray(open_embedder(settings).encode_queries(texts), dtype=np.float32)
    return scale_figures((built / "index").resolve(), vectors, texts, embed_rate=embed_rate, sizes=sizes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Shorter loads and the 20k scale step only (about 8 minutes)")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "bench" / ".work", help="Scratch data dirs (deleted and remade)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="Also write the raw figures as JSON here")
    args = parser.parse_args(argv)
    seconds = 10.0 if args.quick else 20.0
    steps = [100.0, 150.0, 250.0, 300.0, 400.0, 500.0, 600.0]
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    figures: dict = {
        "date": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(), "cpu": _cpu_name(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(), "quick": args.quick,
    }
    figures["build"] = build_and_eval(work)
    onnx_dir = work / "onnx-int8"
    log("matching throughput in process")
    figures["matching"] = {b: matching_throughput(work / b, b, comments=1000 if args.quick else 2000) for b in BACKENDS}
    figures["service"] = [service_figures(work, onnx_dir, "onnx-int8", seconds=seconds, steps=steps),
                          service_figures(work, work / "sentence-transformers", "sentence-transformers", seconds=seconds, steps=[])]
    log("kill -9 mid-stream")
    figures["crash"] = crash_figures(work, onnx_dir, "onnx-int8", rate=120, seconds=12 if args.quick else 25)
    log("scale")
    embed_rate = figures["build"]["agreement"]["candidate_texts_per_second"]
    figures["scale"] = scale_section(onnx_dir, "onnx-int8", embed_rate, (20_000,) if args.quick else (20_000, 100_000))
    figures["bench_seconds"] = round(time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    from .report import render

    args.out.write_text(render(figures), encoding="utf-8")
    log(f"wrote {args.out} in {figures['bench_seconds']} s")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
