"""Index build and search at 20,000 and 100,000 entries: which FAISS index for which size, and why.

Embedding is measured for real on the bundled bank (``index_build``). For
the synthetic banks, embedding 300,000 phrasings would take this machine
half an hour, so their vectors are the bundled bank's real vectors, each
copy nudged by Gaussian noise and renormalised (so the copies are distinct
points clustered the way real phrasings are), and their texts are the
bundled phrasings prefixed with a district name (so BM25 sees distinct
documents of realistic length). What is timed there is what grows with
size: building FAISS (flat and HNSW) and BM25, and searching them; the
embedding time is the measured rate times the count, and says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

PHRASINGS_PER_ENTRY = 4  # the bundled bank: 16,744 phrasings over 4,186 entries
DISTRICTS = [f"第{n}区" for n in range(1, 200)]


def _percentiles(values: list[float]) -> dict[str, float]:
    a = np.array(values) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


def synthetic_vectors(base: np.ndarray, count: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(base), size=count)
    noise = rng.normal(0, 0.02, size=(count, base.shape[1])).astype(np.float32)
    vectors = base[rows] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def faiss_figures(vectors: np.ndarray, queries: np.ndarray, *, k: int = 160) -> dict[str, dict]:
    """Build time, single-query and 64-query latency, and HNSW recall@k against exact search."""
    import faiss

    out = {}
    exact_rows = None
    for name in ("IndexFlatIP", "IndexHNSWFlat"):
        started = time.perf_counter()
        if name == "IndexFlatIP":
            index = faiss.IndexFlatIP(vectors.shape[1])
        else:
            # The settings indexer/build.py uses above its flat-index limit.
            index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 64
        index.add(vectors)
        build = time.perf_counter() - started
        singles = []
        for q in queries[:200]:
            t = time.perf_counter()
            index.search(q[None, :], k)
            singles.append(time.perf_counter() - t)
        batches = []
        for start in range(0, len(queries), 64):
            t = time.perf_counter()
            _, rows = index.search(queries[start:start + 64], k)
            batches.append(time.perf_counter() - t)
        _, rows = index.search(queries, k)
        if exact_rows is None:
            exact_rows = rows
            recall = 1.0
        else:
            top = 20  # what the matcher keeps after merging phrasings
            recall = float(np.mean([len(set(a[:top]) & set(b[:top])) / top for a, b in zip(rows, exact_rows)]))
        out[name] = {"build_s": round(build, 2), "query": _percentiles(singles), "batch64": _percentiles(batches),
                     "recall_at_20": round(recall, 4), "size_mb": round(faiss.serialize_index(index).nbytes / 2**20, 1)}
        del index
    return out


def bm25_figures(texts: list[str], queries: list[str]) -> dict:
    from indexer.lexical import BM25, PolicyTokenizer

    tokenizer = PolicyTokenizer()
    started = time.perf_counter()
    docs = [tokenizer.tokens(t) for t in texts]
    tokenize = time.perf_counter() - started
    started = time.perf_counter()
    bm25 = BM25([str(i) for i in range(len(docs))], docs)
    build = time.perf_counter() - started
    times = []
    for q in queries[:300]:
        tokens = tokenizer.tokens(q)
        t = time.perf_counter()
        bm25.top(tokens, 20)
        times.append(time.perf_counter() - t)
    return {"tokenize_s": round(tokenize, 2), "build_s": round(build, 2), "query": _percentiles(times)}


def scale_figures(index_dir: Path, query_vectors: np.ndarray, query_texts: list[str], *, embed_rate: float,
                  sizes=(20_000, 100_000)) -> list[dict]:
    """For each bank size in entries: FAISS flat vs HNSW, BM25, and the embedding time at ``embed_rate`` texts/s."""
    import faiss

    stored = faiss.read_index(str(Path(index_dir) / "faiss.index"))
    base = stored.reconstruct_n(0, stored.ntotal)
    texts = json.loads((Path(index_dir) / "vectors.json").read_text(encoding="utf-8"))["texts"]
    bundled_entries = len(set(json.loads((Path(index_dir) / "vectors.json").read_text(encoding="utf-8"))["entry_ids"]))
    # The bundled bank as it is: its real vectors and real phrasings.
    out = [{
        "entries": bundled_entries, "vectors": len(base), "bundled": True,
        "embedding_s_at_measured_rate": round(len(base) / embed_rate, 0),
        "faiss": faiss_figures(np.ascontiguousarray(base, dtype=np.float32), query_vectors),
        "bm25": bm25_figures(texts, query_texts),
    }]
    for entries in sizes:
        n = entries * PHRASINGS_PER_ENTRY
        vectors = synthetic_vectors(base, n)
        synthetic_texts = [f"{DISTRICTS[(i // len(texts)) % len(DISTRICTS)]}{texts[i % len(texts)]}" for i in range(entries)]
        out.append({
            "entries": entries, "vectors": n,
            "embedding_s_at_measured_rate": round(n / embed_rate, 0),
            "faiss": faiss_figures(vectors, query_vectors),
            # BM25 has one document per entry (all its phrasings joined); one phrasing stands for each here.
            "bm25": bm25_figures(synthetic_texts, query_texts),
        })
    return out
