"""Sentence embeddings through sentence-transformers.

The model is named by a setting and loaded the way any Hugging Face user
loads it; where it comes from (the network, or an offline cache through
HF_HUB_CACHE and HF_HUB_OFFLINE) is the environment's business.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np


BACKENDS = ("sentence-transformers", "onnx-int8")


class Embedder:
    """Loads the model once; encodes documents and queries with their E5 prompts."""

    backend = "sentence-transformers"

    def __init__(self, model_name: str, *, query_prompt: str = "query", document_prompt: str = "query", batch_size: int = 64):
        import torch
        from sentence_transformers import SentenceTransformer

        # Two cores here: more intra-op threads than cores only adds contention.
        torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
        self.model_name = model_name
        self.model = SentenceTransformer(model_name, device="cpu")
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.batch_size = batch_size
        missing = {query_prompt, document_prompt} - set(self.model.prompts)
        if missing:
            raise ValueError(
                f"model {model_name} defines no prompt(s) named {sorted(missing)}; it has {sorted(self.model.prompts)}"
            )

    @property
    def dimension(self) -> int:
        # Renamed in sentence-transformers 6; keep working on 5.x too.
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    def _encode(self, texts: Sequence[str], prompt_name: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def encode_documents(
        self, texts: Sequence[str], *, chunk: int = 512, on_progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return encode_in_chunks(lambda batch: self._encode(batch, self.document_prompt), texts, chunk=chunk, on_progress=on_progress)


def encode_in_chunks(
    encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str], *, chunk: int, on_progress: Callable[[int], None] | None
) -> np.ndarray:
    """Encode in chunks so a caller can show progress on a long build (both backends)."""
    parts = []
    for start in range(0, len(texts), chunk):
        batch = texts[start : start + chunk]
        parts.append(encode(batch))
        if on_progress:
            on_progress(len(batch))
    return np.concatenate(parts) if parts else encode([])


class QueryCache:
    """The embedder, remembering the vectors of recent query texts.

    A live room repeats itself: many viewers send the same question, or 扣1
    and 666, within minutes. Keys are the normalised texts the matcher
    embeds, so 医保卡丢了怎么补办！！ and 醫保卡丟了怎麼補辦 share one entry.
    Least recently used texts are dropped beyond ``capacity``.
    """

    def __init__(self, embedder, capacity: int):
        import threading
        from collections import OrderedDict

        self._lock = threading.Lock()  # the pipeline thread and a staff-triggered rebuild share it
        self.embedder = embedder
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name):  # model_name, dimension, prompts, encode_documents …
        return getattr(self.embedder, name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._vectors.move_to_end(text)
                    out[i] = vector
                    self.hits += 1
        if missing:
            unique = list(missing)
            vectors = self.embedder.encode_queries(unique)
            with self._lock:
                for text, vector in zip(unique, vectors):
                    out[missing[text]] = vector
                    self._vectors[text] = vector
                self.misses += len(unique)
                self.hits += sum(len(rows) - 1 for rows in missing.values())
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return out

    def stats(self) -> dict[str, int]:
        return {"size": len(self._vectors), "capacity": self.capacity, "hits": self.hits, "misses": self.misses}


def open_embedder(settings, *, log: Callable[[str], None] = lambda message: None, cache: bool = False):
    """The embedder the settings ask for: ``embedding_backend`` picks the path, ``query_cache_size`` the cache.

    The ONNX path is exported from the sentence-transformers model on first
    use (about 15 s) into ``<data-dir>/models``.
    """
    backend = settings.embedding_backend
    if backend == "sentence-transformers":
        embedder = Embedder(settings.model_name, query_prompt=settings.query_prompt, document_prompt=settings.document_prompt,
                            batch_size=settings.embed_batch_size)
    elif backend == "onnx-int8":
        from .onnx_embedder import OnnxEmbedder, ensure_export

        directory = ensure_export(settings.model_name, settings.models_dir, log=log)
        embedder = OnnxEmbedder(directory, model_name=settings.model_name, query_prompt=settings.query_prompt,
                                document_prompt=settings.document_prompt, batch_size=settings.embed_batch_size)
    else:
        raise ValueError(f"embedding backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if cache and settings.query_cache_size:
        return QueryCache(embedder, settings.query_cache_size)
    return embedder
