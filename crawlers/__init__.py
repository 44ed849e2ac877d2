"""crawlers stage."""
