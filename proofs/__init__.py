"""The proof ledger: entries, hash chaining, Ed25519-signed checkpoints, JSONL export and verification.

Plain Python over `models` only (no Prefect, connectors, detection or reports); never holds erased content.
"""
