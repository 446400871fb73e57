"""The lexical side of the index: jieba tokens and Okapi BM25.

jieba splits policy terms badly out of the box (公积金 → 公积 / 金), so the
tokenizer loads a user dictionary of policy terms. A long word also yields
the policy terms inside it (异地就医备案 → 异地就医), and jieba's
``cut_for_search`` sub-words, so a comment that says only part of a term
still matches.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import unicodedata
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np

_DATA = resources.files("indexer") / "data"
_WORDISH = re.compile(r"\w", re.UNICODE)
# Distinct texts whose tokens are remembered: the bundled bank has 16,744
# phrasings, and a busy stream adds its comments.
TOKEN_CACHE_SIZE = 65_536


def _read_data(name: str) -> str:
    return (_DATA / name).read_text(encoding="utf-8")


def user_dictionary_hash() -> str:
    """Changes when the policy-term dictionary or the stop words do (recorded in the manifest)."""
    return hashlib.sha256((_read_data("policy_terms.txt") + _read_data("stopwords.txt")).encode("utf-8")).hexdigest()


class PolicyTokenizer:
    """A jieba tokenizer of its own (not jieba's global one) with the policy terms loaded."""

    def __init__(self, extra_terms: list[str] | None = None):
        import jieba

        # jieba logs its dictionary loading at DEBUG/INFO on every start.
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._terms: set[str] = set()
        for line in _read_data("policy_terms.txt").splitlines():
            parts = line.split()
            if parts:
                freq = int(parts[1]) if len(parts) > 1 else None
                self._jieba.add_word(parts[0], freq=freq)
                self._terms.add(parts[0].lower())
        for term in extra_terms or []:
            self._jieba.add_word(term)
            self._terms.add(term.lower())
        self._stop = {w.strip() for w in _read_data("stopwords.txt").splitlines() if w.strip()}
        # The matcher tokenises every candidate's phrasing for each comment; the
        # bank's phrasings and a stream's repeated comments come back over and
        # over, and jieba was most of the matcher's time without this.
        self._cached_tokens = functools.lru_cache(maxsize=TOKEN_CACHE_SIZE)(self._tokenize)

    def _inner_terms(self, word: str) -> list[str]:
        n = len(word)
        return [word[i:j] for i in range(n) for j in range(i + 2, n + 1) if (j - i) < n and word[i:j] in self._terms]

    def tokens(self, text: str) -> list[str]:
        return list(self._cached_tokens(text))

    def _tokenize(self, text: str) -> tuple[str, ...]:
        t = unicodedata.normalize("NFKC", text).lower()
        out = [
            w for w in (w.strip() for w in self._jieba.cut_for_search(t)) if w and w not in self._stop and _WORDISH.search(w)
        ]
        # Add the policy terms inside long words that jieba's sub-words missed
        # (异地就医 in 异地就医备案), once each, so term frequency stays honest.
        seen = set(out)
        for word in [w for w in out if len(w) > 3]:
            for term in self._inner_terms(word):
                if term not in seen:
                    seen.add(term)
                    out.append(term)
        return tuple(out)


class BM25:
    """Okapi BM25 over one document per entry (all its phrasings joined)."""

    def __init__(self, doc_ids: list[str], docs: list[list[str]], k1: float = 1.2, b: float = 0.75):
        self.doc_ids = doc_ids
        self.docs = docs
        self.k1, self.b = k1, b
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        self._avgdl = float(lengths.mean()) if len(docs) else 0.0
        self._norm = k1 * (1 - b + b * lengths / max(self._avgdl, 1e-9))
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((i, tf))
        n = len(docs)
        self._idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        # The same postings as arrays, so a query adds each term's scores in one numpy step.
        self._arrays = {
            t: (np.fromiter((d for d, _ in p), dtype=np.int64, count=len(p)), np.fromiter((f for _, f in p), dtype=np.float32, count=len(p)))
            for t, p in postings.items()
        }

    def idf(self, term: str) -> float:
        """A term no entry uses gets the highest weight: it is what the bank lacks."""
        if not hasattr(self, "_max_idf"):
            self._max_idf = max(self._idf.values(), default=1.0)
        return self._idf.get(term, self._max_idf)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        scores = np.zeros(len(self.docs), dtype=np.float32)
        for term in set(query_tokens):
            arrays = self._arrays.get(term)
            if arrays is None:
                continue
            idx, tf = arrays
            scores[idx] += self._idf[term] * tf * (self.k1 + 1) / (tf + self._norm[idx])
        return scores

    def top(self, query_tokens: list[str], k: int) -> list[tuple[str, float]]:
        s = self.scores(query_tokens)
        if not len(s):
            return []
        k = min(k, len(s))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(self.doc_ids[i], float(s[i])) for i in idx if s[i] > 0]

    # -- persistence: the tokenised documents are the artefact ----------------
    def save(self, path: Path) -> None:
        payload = {"k1": self.k1, "b": self.b, "doc_ids": self.doc_ids, "docs": [" ".join(d) for d in self.docs]}
        Path(path).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "BM25":
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        docs = [d.split(" ") if d else [] for d in payload["docs"]]
        return cls(payload["doc_ids"], docs, k1=payload["k1"], b=payload["b"])
