"""govlive: the assistant behind government-service livestreams."""
