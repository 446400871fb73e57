"""Build the index of an answer bank: dense (FAISS) and lexical (jieba + BM25).

An index is a directory ``<data_dir>/index-builds/<build_id>`` with

- ``manifest.json``  what it was built from (see :mod:`indexer.manifest`)
- ``faiss.index``    one L2-normalised embedding per phrasing (flat or HNSW,
                     both of which keep the vectors, so no second copy is stored)
- ``vectors.json``   which entry and which text each vector row is
- ``lexical.json``   jieba tokens of each entry for BM25
- ``entries.json``   entry id → content hash, to tell what changed next time

``<data_dir>/index`` is a symbolic link to the current build and is swapped
atomically, so a reader sees the old index or the new one, never half of one.
A rebuild reuses the vectors of every text it has embedded before, so a
10-entry change embeds only those entries' phrasings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from assistant.bank.store import AnswerBank

from .index import BankIndex
from .lexical import BM25, PolicyTokenizer, user_dictionary_hash
from .manifest import IndexManifest, IndexMissing, IndexMismatch

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

# Exact search is cheapest and best below this many vectors (a 2-core scan of
# 50k x 384 floats takes a few milliseconds); beyond it HNSW keeps search
# sub-millisecond at a small recall cost.
FLAT_INDEX_MAX_VECTORS = 50_000


def text_key(prompt: str, text: str) -> str:
    return hashlib.sha1(f"{prompt}\0{text}".encode("utf-8")).hexdigest()


def make_faiss_index(vectors: np.ndarray):
    import faiss

    n, d = vectors.shape
    if n <= FLAT_INDEX_MAX_VECTORS:
        index = faiss.IndexFlatIP(d)
    else:
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    index.add(vectors)
    return index


def library_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("sentence-transformers", "transformers", "torch", "onnxruntime", "faiss-cpu", "jieba", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def builds_dir(index_link: Path) -> Path:
    return index_link.parent / "index-builds"


@dataclass
class PreviousBuild:
    vectors: np.ndarray
    keys: dict[str, int]  # text key → row
    entry_hashes: dict[str, str]


def _previous_build(index_link: Path, model_name: str, document_prompt: str, backend: str) -> PreviousBuild | None:
    """The vectors of the current build, if it used the same model, prompt and embedding backend."""
    try:
        manifest = IndexManifest.read(index_link)
    except (IndexMissing, IndexMismatch, ValueError):
        return None
    if manifest.model_name != model_name or manifest.document_prompt != document_prompt or manifest.embedding_backend != backend:
        return None
    try:
        import faiss

        stored = faiss.read_index(str(index_link / "faiss.index"))
        vectors = stored.reconstruct_n(0, stored.ntotal)
        rows = json.loads((index_link / "vectors.json").read_text(encoding="utf-8"))
        entry_hashes = json.loads((index_link / "entries.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):
        return None  # a damaged previous build is simply not reused
    return PreviousBuild(vectors, {k: i for i, k in enumerate(rows["text_keys"])}, entry_hashes)


@dataclass
class BuildReport:
    manifest: IndexManifest
    path: Path
    size_bytes: int


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_index(
    bank: AnswerBank,
    *,
    index_link: Path,
    embedder,
    progress: bool = True,
    fit: Callable[["BankIndex"], dict] | None = None,
) -> BuildReport:
    """Embed what is new, write a complete build beside the old one, then swap the link.

    ``fit`` is called with the finished (not yet published) index to fit
    whatever is learned on top of it (the matcher); it writes its files into
    ``index.directory`` and returns a summary recorded in the manifest. A
    failure there leaves the current index in place.
    """
    started = time.perf_counter()
    index_link = Path(index_link)
    index_link.parent.mkdir(parents=True, exist_ok=True)
    backend = getattr(embedder, "backend", "sentence-transformers")
    previous = _previous_build(index_link, embedder.model_name, embedder.document_prompt, backend)

    entries = bank.entries
    row_entry_ids: list[str] = []
    row_texts: list[str] = []
    for e in entries:
        for t in e.all_questions():
            row_entry_ids.append(e.id)
            row_texts.append(t)
    keys = [text_key(embedder.document_prompt, t) for t in row_texts]

    dim = embedder.dimension
    vectors = np.zeros((len(row_texts), dim), dtype=np.float32)
    to_embed: list[int] = []
    reused = 0
    for i, k in enumerate(keys):
        if previous is not None and k in previous.keys and previous.vectors.shape[1] == dim:
            vectors[i] = previous.vectors[previous.keys[k]]
            reused += 1
        else:
            to_embed.append(i)

    if to_embed:
        texts = [row_texts[i] for i in to_embed]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="text", file=sys.stderr)
        try:
            new = embedder.encode_documents(texts, on_progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        vectors[to_embed] = new

    tokenizer = PolicyTokenizer()
    lexical = BM25(
        [e.id for e in entries],
        [tokenizer.tokens(" ".join([e.item, *e.all_questions()])) for e in entries],
    )
    faiss_index = make_faiss_index(vectors)

    old_hashes = previous.entry_hashes if previous else {}
    new_hashes = bank.entry_hashes()
    added = sum(1 for i in new_hashes if i not in old_hashes)
    changed = sum(1 for i, h in new_hashes.items() if i in old_hashes and old_hashes[i] != h)
    removed = sum(1 for i in old_hashes if i not in new_hashes)

    # Microseconds in the id: two builds within one second (a bank edit right
    # after a rebuild) must still sort in the order they were made, because
    # pruning keeps the newest two by name.
    build_id = dt.datetime.now(SHANGHAI).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]
    root = builds_dir(index_link)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{build_id}.partial"
    tmp.mkdir()
    try:
        import faiss

        (tmp / "vectors.json").write_text(
            json.dumps({"entry_ids": row_entry_ids, "texts": row_texts, "text_keys": keys}, ensure_ascii=False),
            encoding="utf-8",
        )
        faiss.write_index(faiss_index, str(tmp / "faiss.index"))
        lexical.save(tmp / "lexical.json")
        (tmp / "entries.json").write_text(json.dumps(new_hashes), encoding="utf-8")
        manifest = IndexManifest(
            build_id=build_id,
            built_at=dt.datetime.now(SHANGHAI).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - started, 3),
            bank_dir=str(bank.directory),
            corpus_hash=bank.corpus_hash(),
            entry_count=len(entries),
            vector_count=len(row_texts),
            model_name=embedder.model_name,
            embedding_backend=backend,
            dimension=dim,
            document_prompt=embedder.document_prompt,
            query_prompt=embedder.query_prompt,
            faiss_index_type=type(faiss_index).__name__,
            lexical_tokenizer="jieba cut_for_search + policy_terms.txt, BM25 k1=1.2 b=0.75",
            user_dictionary_hash=user_dictionary_hash(),
            library_versions=library_versions(),
            texts_embedded=len(to_embed),
            texts_reused=reused,
            entries_added=added,
            entries_changed=changed,
            entries_removed=removed,
        )
        if fit is not None:
            manifest.fitted = fit(BankIndex(tmp, manifest))
            manifest.build_seconds = round(time.perf_counter() - started, 3)
        manifest.write(tmp)
        final = root / build_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_link(index_link, final)
    _remove_old_builds(root, keep=final)
    return BuildReport(manifest, final, _dir_size(final))


def _swap_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` in one rename, so readers never see a gap."""
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} is a real directory, not an index link; move it away and rebuild")
    tmp_link = link.with_name(f".{link.name}.{uuid.uuid4().hex[:6]}")
    os.symlink(os.path.relpath(target, link.parent), tmp_link)
    os.replace(tmp_link, link)


def _remove_old_builds(root: Path, keep: Path) -> None:
    """Keep the new build and the one before it: a reader that resolved the
    link just before the swap can still finish loading the previous build."""
    builds = sorted(
        (c for c in root.iterdir() if c.is_dir() and not c.name.startswith(".")),
        key=lambda c: (c.name.split("-", 1)[0].ljust(21, "0"), c.stat().st_mtime_ns),
    )
    for child in builds:
        if child != keep and child not in builds[-2:]:
            shutil.rmtree(child, ignore_errors=True)
