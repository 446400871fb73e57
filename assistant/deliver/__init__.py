"""Stage 5a of the flow: decided answers pushed to the overlay and to the digital-human host."""
