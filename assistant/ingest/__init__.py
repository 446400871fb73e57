"""Stage 1 of the flow: platform payloads in, one common comment record out."""
