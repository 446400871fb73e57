"""Builds and opens the search index of an answer bank."""
