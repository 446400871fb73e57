"""Stage 2 of the flow: a raw live comment becomes clean text for matching and safe text for screens."""
