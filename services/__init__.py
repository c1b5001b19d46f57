"""Use cases without Prefect: what the flows and the CLI both call (scan, package, plan, approve, erase, purge)."""
