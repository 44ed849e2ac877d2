"""digests stage."""
