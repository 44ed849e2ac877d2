"""`python -m shellwatch` is the `shellwatch` command."""

from shellwatch.cli import main

main()
