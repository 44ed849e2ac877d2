"""Spiders of the ShellWatch crawler: one generic, registry-driven news spider."""
