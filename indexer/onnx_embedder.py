"""The same sentence embeddings through ONNX Runtime, int8-quantised, without torch at run time.

Why: on 2 CPU cores the transformer's forward pass is most of what a comment
costs. Exported once from the sentence-transformers model (``torch.onnx``),
with mean pooling and L2 normalisation inside the graph, then dynamically
quantised to int8 with per-channel weight scales (per-tensor scales cost too
much accuracy on this model: mean cosine 0.990 against 0.997). Tokenisation
uses the model's own ``tokenizer.json`` through ``tokenizers``, which is what
the transformers fast tokenizer runs underneath, so token ids are identical.
Dynamic quantisation picks activation scales per batch, so a text's vector
moves slightly with its batch-mates (cosine > 0.998 against itself alone);
batching is still worth it: 2.4x the texts per second of one-by-one calls.

The export is an artefact like the index: built by :func:`export_onnx` into a
directory with a manifest naming the model, its cache revision and the
libraries, and used by :class:`OnnxEmbedder`. :func:`ensure_export` builds it
when it is missing or was exported from another model revision.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from .embedder import encode_in_chunks

EXPORT_FORMAT_VERSION = 1
MANIFEST_NAME = "export.json"
FP32_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
TOKENIZER_NAME = "tokenizer.json"
# ONNX opset for the export; 17 has LayerNormalization as one op.
OPSET = 17


class OnnxExportManifest(BaseModel):
    format_version: int = EXPORT_FORMAT_VERSION
    model_name: str
    model_revision: str | None  # the Hugging Face cache snapshot the weights came from
    exported_at: str
    export_seconds: float
    dimension: int
    max_seq_length: int
    prompts: dict[str, str]
    pad_token_id: int
    opset: int
    quantization: str  # what model.int8.onnx is
    library_versions: dict[str, str]


def export_dir_for(root: Path, model_name: str) -> Path:
    """``<root>/intfloat--multilingual-e5-small``: one export per model name."""
    return Path(root) / re.sub(r"[^A-Za-z0-9._-]+", "--", model_name)


def model_revision(model_name: str) -> str | None:
    """The snapshot of ``model_name`` in the local Hugging Face cache, if it is there (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_name, "config.json")
    except Exception:  # an unusual cache layout: the export is then checked by name only
        return None
    if not isinstance(found, str):
        return None
    parts = Path(found).parts
    return parts[-2] if len(parts) >= 2 and parts[-3] == "snapshots" else None


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("torch", "onnx", "onnxruntime", "tokenizers", "sentence-transformers", "transformers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def export_onnx(model_name: str, out_dir: Path, *, log: Callable[[str], None] = lambda message: None) -> OnnxExportManifest:
    """Export ``model_name`` (a sentence-transformers model) to ``out_dir``: fp32 graph, int8 graph, tokenizer, manifest.

    Written into a temporary directory beside ``out_dir`` and renamed into
    place, so a reader never sees half an export.
    """
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(out_dir.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()

    st = SentenceTransformer(model_name, device="cpu")
    transformer = st[0].auto_model.eval()
    pooling = st[1]
    if getattr(pooling, "pooling_mode_mean_tokens", True) is not True:
        raise ValueError(f"{model_name} does not use mean pooling; the ONNX path implements mean pooling only")

    class Pooled(torch.nn.Module):
        """Transformer + mean pooling + L2 normalisation, as the sentence-transformers pipeline computes it."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = st.tokenizer(["query: 医保卡丢了怎么补办", "query: 你好"], padding=True, return_tensors="pt")
    log(f"exporting {model_name} to ONNX (opset {OPSET})")
    with torch.no_grad():
        torch.onnx.export(
            Pooled(transformer),
            (sample["input_ids"], sample["attention_mask"]),
            str(staging / FP32_NAME),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter handles BERT's dynamic shapes without extra annotations
        )
    log("quantising to int8 (dynamic, per-channel weights)")
    quantize_dynamic(str(staging / FP32_NAME), str(staging / INT8_NAME), weight_type=QuantType.QInt8, per_channel=True)
    st.tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_NAME))
    get_dimension = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    manifest = OnnxExportManifest(
        model_name=model_name,
        model_revision=model_revision(model_name),
        exported_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        export_seconds=round(time.perf_counter() - started, 2),
        dimension=int(get_dimension()),
        max_seq_length=int(st.max_seq_length),
        prompts=dict(st.prompts),
        pad_token_id=int(st.tokenizer.pad_token_id),
        opset=OPSET,
        quantization="onnxruntime.quantization.quantize_dynamic, QInt8 weights, per-channel",
        library_versions=_versions(),
    )
    (staging / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    if out_dir.exists():
        retired = out_dir.with_name(out_dir.name + f".old-{os.getpid()}")
        out_dir.rename(retired)
        staging.rename(out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out_dir)
    return manifest


def read_export(directory: Path) -> OnnxExportManifest | None:
    path = Path(directory) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        manifest = OnnxExportManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    if manifest.format_version != EXPORT_FORMAT_VERSION:
        return None
    return manifest


def ensure_export(model_name: str, root: Path, *, log: Callable[[str], None] = lambda message: None) -> Path:
    """The export directory for ``model_name`` under ``root``, exporting it first if it is missing or stale."""
    directory = export_dir_for(root, model_name)
    manifest = read_export(directory)
    revision = model_revision(model_name)
    stale = manifest is None or manifest.model_name != model_name or (revision is not None and manifest.model_revision != revision)
    if stale or not (directory / INT8_NAME).exists() or not (directory / TOKENIZER_NAME).exists():
        export_onnx(model_name, directory, log=log)
    return directory


class OnnxEmbedder:
    """Drop-in for :class:`indexer.embedder.Embedder` over an export made by :func:`export_onnx`."""

    backend = "onnx-int8"

    def __init__(
        self,
        export_directory: Path,
        *,
        model_name: str,
        query_prompt: str = "query",
        document_prompt: str = "query",
        batch_size: int = 64,
        threads: int | None = None,
        quantized: bool = True,
    ):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = Path(export_directory)
        manifest = read_export(directory)
        if manifest is None:
            raise FileNotFoundError(f"no ONNX export at {directory}; it is made by `govlive model export-onnx` (or on first use)")
        if manifest.model_name != model_name:
            raise ValueError(f"the ONNX export at {directory} is of {manifest.model_name!r}, not the configured {model_name!r}")
        missing = {query_prompt, document_prompt} - set(manifest.prompts)
        if missing:
            raise ValueError(f"model {model_name} defines no prompt(s) named {sorted(missing)}; it has {sorted(manifest.prompts)}")
        self.manifest = manifest
        self.model_name = model_name
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.batch_size = batch_size
        if not quantized:
            self.backend = "onnx-fp32"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 4))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning: in govlive serve they
        # share two cores with the event loop that takes the pushes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = directory / (INT8_NAME if quantized else FP32_NAME)
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_NAME))
        self.tokenizer.enable_truncation(manifest.max_seq_length)
        self.tokenizer.no_padding()  # padded per batch below, to the batch's longest text

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    def _encode(self, texts: Sequence[str], prompt_name: str) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        prefix = self.manifest.prompts[prompt_name]
        encodings = self.tokenizer.encode_batch([prefix + t for t in texts])
        # Texts of similar length share a batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        pad = self.manifest.pad_token_id
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.full((len(rows), width), pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            out[rows] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def encode_documents(
        self, texts: Sequence[str], *, chunk: int = 512, on_progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return encode_in_chunks(lambda batch: self._encode(batch, self.document_prompt), texts, chunk=chunk, on_progress=on_progress)


def agreement(reference, candidate, texts: Sequence[str], *, min_cosine: float = 0.99) -> dict:
    """How close ``candidate``'s query vectors are to ``reference``'s (both L2-normalised), text by text, with timings."""
    started = time.perf_counter()
    expected = reference.encode_queries(texts)
    reference_seconds = time.perf_counter() - started
    started = time.perf_counter()
    got = candidate.encode_queries(texts)
    candidate_seconds = time.perf_counter() - started
    cosine = (expected * got).sum(axis=1)
    worst = int(np.argmin(cosine))
    return {
        "texts": len(texts),
        "min_cosine": round(float(cosine.min()), 5),
        "p1_cosine": round(float(np.percentile(cosine, 1)), 5),
        "mean_cosine": round(float(cosine.mean()), 5),
        "below_min": int((cosine < min_cosine).sum()),
        "worst_text": texts[worst],
        "passed": bool(cosine.min() >= min_cosine),
        "reference_texts_per_second": round(len(texts) / reference_seconds, 1),
        "candidate_texts_per_second": round(len(texts) / candidate_seconds, 1),
    }
