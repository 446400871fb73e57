"""Sentence embeddings through sentence-transformers.

The model is named by a setting and loaded the way any Hugging Face user
loads it; where it comes from (the network, or an offline cache through
HF_HUB_CACHE and HF_HUB_OFFLINE) is the environment's business.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np


class Embedder:
    """Loads the model once; encodes documents and queries with their E5 prompts."""

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
        """Encode in chunks so a caller can show progress on a long build."""
        parts = []
        for start in range(0, len(texts), chunk):
            batch = texts[start : start + chunk]
            parts.append(self._encode(batch, self.document_prompt))
            if on_progress:
                on_progress(len(batch))
        return np.concatenate(parts) if parts else self._encode([], self.document_prompt)
