"""Finding the person: identifier variants, prefilter and confirmation, ownership, classification, redaction.

Plain Python over connectors (no Prefect, no database). Never logs or raises with identifiers or content.
"""
