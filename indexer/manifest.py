"""What an index was built from, and the check that it still fits the bank and model."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


class IndexManifest(BaseModel):
    format_version: int = FORMAT_VERSION
    build_id: str
    built_at: str  # ISO 8601 with offset
    build_seconds: float
    bank_dir: str
    corpus_hash: str
    entry_count: int
    vector_count: int
    model_name: str
    # How the vectors were computed: "sentence-transformers" (torch) or
    # "onnx-int8" (indexer/onnx_embedder.py). Queries must use the same path,
    # because the matcher's thresholds were fitted on its vectors.
    embedding_backend: str = "sentence-transformers"
    dimension: int
    document_prompt: str
    query_prompt: str
    faiss_index_type: str
    lexical_tokenizer: str
    user_dictionary_hash: str
    library_versions: dict[str, str]
    texts_embedded: int
    texts_reused: int
    entries_added: int
    entries_changed: int
    entries_removed: int
    # What was fitted on top of the index in the same build (the matcher), and from what.
    fitted: dict | None = None

    def write(self, directory: Path) -> None:
        (Path(directory) / MANIFEST_NAME).write_text(self.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> "IndexManifest":
        path = Path(directory) / MANIFEST_NAME
        if not path.exists():
            raise IndexMissing(f"no index at {directory} (no {MANIFEST_NAME}); build one with `govlive index build`")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"index at {directory} has format version {data.get('format_version')}, this govlive reads "
                f"version {FORMAT_VERSION}; rebuild it with `govlive index build`"
            )
        return cls.model_validate(data)


class IndexMissing(FileNotFoundError):
    pass


class IndexMismatch(RuntimeError):
    """The index on disk was built from another bank or model than the one configured."""


def check_fits(manifest: IndexManifest, *, directory: Path, corpus_hash: str, entry_count: int, entry_changes: str, model_name: str, document_prompt: str, query_prompt: str, embedding_backend: str = "sentence-transformers") -> None:
    """Raise :class:`IndexMismatch` naming every way the index does not fit."""
    reasons = []
    if manifest.model_name != model_name:
        reasons.append(f"it was embedded with model {manifest.model_name!r}, but the configured model is {model_name!r}")
    if manifest.embedding_backend != embedding_backend:
        reasons.append(
            f"its vectors were computed with the {manifest.embedding_backend!r} embedding backend, but the configured "
            f"backend is {embedding_backend!r} (GOVLIVE_EMBEDDING_BACKEND)"
        )
    if manifest.document_prompt != document_prompt or manifest.query_prompt != query_prompt:
        reasons.append(
            f"it was built with prompts document={manifest.document_prompt!r}/query={manifest.query_prompt!r}, "
            f"but the settings say document={document_prompt!r}/query={query_prompt!r}"
        )
    if manifest.corpus_hash != corpus_hash:
        reasons.append(
            f"it was built from a bank of {manifest.entry_count} entries (hash {manifest.corpus_hash[:12]}), "
            f"but the bank now has {entry_count} entries (hash {corpus_hash[:12]}; {entry_changes})"
        )
    if reasons:
        raise IndexMismatch(
            f"the index at {directory} does not match: " + "; ".join(reasons) + ". Rebuild it with `govlive index build` "
            "(only changed entries are re-embedded)."
        )
