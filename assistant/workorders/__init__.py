"""Stage 5b of the flow: what cannot be answered live is filed, dispatched and closed under the "125" rule."""
