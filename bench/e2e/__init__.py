"""The end-to-end run: every service as its own process, under load and faults (`make e2e`)."""
