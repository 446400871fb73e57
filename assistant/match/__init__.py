"""Stage 3 of the flow: a normalised comment is matched against the indexed answer bank."""
