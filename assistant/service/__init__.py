"""The live service: the FastAPI app behind `govlive serve`."""
