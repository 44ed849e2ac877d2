"""ShellWatch: shared domain types, configuration and the command line.

The pipeline stages live in their own top-level packages (crawlers, workers, nlp, search, alerts,
digests, web); this package holds only what all of them speak.
"""

__version__ = "0.1.0"
