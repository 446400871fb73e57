"""Open a built index for searching, after checking it fits the bank and model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.bank.store import AnswerBank

from .lexical import BM25, PolicyTokenizer
from .manifest import IndexManifest, IndexMismatch, check_fits


@dataclass
class DenseHit:
    entry_id: str
    score: float  # cosine similarity of the best-matching phrasing
    text: str  # that phrasing


def _describe_changes(old: dict[str, str], new: dict[str, str]) -> str:
    added = sum(1 for i in new if i not in old)
    removed = sum(1 for i in old if i not in new)
    changed = sum(1 for i, h in new.items() if i in old and old[i] != h)
    return f"{added} added, {changed} changed, {removed} removed since the build"


class BankIndex:
    """The dense and lexical indexes of one build, held in memory."""

    def __init__(self, directory: Path, manifest: IndexManifest):
        import faiss

        self.directory = Path(directory)  # the build itself, not the link
        self.manifest = manifest
        build = self.directory
        self.faiss = faiss.read_index(str(build / "faiss.index"))
        rows = json.loads((build / "vectors.json").read_text(encoding="utf-8"))
        self.row_entry_ids: list[str] = rows["entry_ids"]
        self.row_texts: list[str] = rows["texts"]
        self.lexical = BM25.load(build / "lexical.json")
        self.tokenizer = PolicyTokenizer()
        if self.faiss.ntotal != manifest.vector_count:
            raise IndexMismatch(f"index at {directory} is damaged: {self.faiss.ntotal} vectors, manifest says {manifest.vector_count}")

    @classmethod
    def open(cls, directory: Path, bank: AnswerBank, *, model_name: str, document_prompt: str, query_prompt: str,
             embedding_backend: str = "sentence-transformers") -> "BankIndex":
        directory = Path(directory)
        # Resolve the link once: every file comes from the same build even if
        # a rebuild swaps the link while we read.
        build = directory.resolve()
        manifest = IndexManifest.read(build if build.exists() else directory)
        if manifest.corpus_hash != bank.corpus_hash():
            old = json.loads((build / "entries.json").read_text(encoding="utf-8"))
            changes = _describe_changes(old, bank.entry_hashes())
        else:
            changes = ""
        check_fits(
            manifest,
            directory=directory,
            corpus_hash=bank.corpus_hash(),
            entry_count=len(bank),
            entry_changes=changes,
            model_name=model_name,
            document_prompt=document_prompt,
            query_prompt=query_prompt,
            embedding_backend=embedding_backend,
        )
        return cls(build, manifest)

    @classmethod
    def open_configured(cls, settings, bank: AnswerBank) -> "BankIndex":
        """The index of ``settings.index_dir``, checked against the configured model, prompts and backend."""
        return cls.open(
            settings.index_dir, bank, model_name=settings.model_name, document_prompt=settings.document_prompt,
            query_prompt=settings.query_prompt, embedding_backend=settings.embedding_backend,
        )

    def search_dense(self, query_vectors: np.ndarray, k: int) -> list[list[DenseHit]]:
        """Best ``k`` entries per query; an entry's score is its best phrasing's."""
        # Several phrasings belong to one entry, so over-fetch before merging.
        fetch = min(self.faiss.ntotal, max(k * 8, 32))
        scores, rows = self.faiss.search(np.ascontiguousarray(query_vectors, dtype=np.float32), fetch)
        out: list[list[DenseHit]] = []
        for qs, qr in zip(scores, rows):
            best: dict[str, DenseHit] = {}
            for s, r in zip(qs, qr):
                if r < 0:
                    continue
                eid = self.row_entry_ids[r]
                if eid not in best:
                    best[eid] = DenseHit(eid, float(s), self.row_texts[r])
                if len(best) >= k:
                    break
            out.append(list(best.values()))
        return out

    def search_lexical(self, text: str, k: int) -> list[tuple[str, float]]:
        return self.lexical.top(self.tokenizer.tokens(text), k)
