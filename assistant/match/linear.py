"""Small standardised logistic-regression models, fitted with scikit-learn and stored as JSON.

The matcher's learned parts (intent, reranking, confidence) are all linear
models over a few hundred features at most. Storing their numbers as JSON,
not pickles, keeps the index directory readable, diffable and safe to load,
and means scikit-learn is needed only to fit, never to serve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, PrivateAttr


class LinearModel(BaseModel):
    """``z = ((x - mean) / scale) @ coef.T + intercept``; sigmoid (binary) or softmax (classes)."""

    feature_names: list[str]
    classes: list[str]  # two classes → binary, probability of classes[1]
    mean: list[float]
    scale: list[float]
    coef: list[list[float]]  # one row per class (one row in all for a binary model)
    intercept: list[float]
    _np: tuple | None = PrivateAttr(default=None)

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: Sequence,
        *,
        feature_names: Sequence[str],
        C: float = 1.0,
        class_weight: str | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> "LinearModel":
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(feature_names):
            raise ValueError(f"expected {len(feature_names)} features, got shape {X.shape}")
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale < 1e-12] = 1.0  # a constant feature contributes nothing
        lr = LogisticRegression(C=C, max_iter=5000, class_weight=class_weight)
        lr.fit((X - mean) / scale, list(y), sample_weight=sample_weight)
        return cls(
            feature_names=list(feature_names),
            classes=[str(c) for c in lr.classes_],
            mean=mean.tolist(),
            scale=scale.tolist(),
            coef=lr.coef_.tolist(),
            intercept=lr.intercept_.tolist(),
        )

    def _arrays(self):
        # Cached numpy copies; the pydantic fields stay plain lists for JSON.
        if self._np is None:
            self._np = (
                np.asarray(self.mean, dtype=np.float32),
                np.asarray(self.scale, dtype=np.float32),
                np.asarray(self.coef, dtype=np.float32),
                np.asarray(self.intercept, dtype=np.float32),
            )
        return self._np

    def decision(self, X: np.ndarray) -> np.ndarray:
        mean, scale, coef, intercept = self._arrays()
        z = ((np.asarray(X, dtype=np.float32) - mean) / scale) @ coef.T + intercept
        return z[:, 0] if z.shape[1] == 1 else z

    def probability(self, X: np.ndarray) -> np.ndarray:
        """Binary: P(classes[1]) per row. Multi-class: a row of probabilities per row."""
        z = self.decision(X)
        if z.ndim == 1:
            return 1.0 / (1.0 + np.exp(-z))
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
