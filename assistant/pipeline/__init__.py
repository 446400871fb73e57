"""Stages 2–4 run together: stored comments normalised, matched and decided."""
