"""Shared test support: real servers on free 127.0.0.1 ports, always stopped afterwards."""
