"""Erasure (Art. 17): plan per item, crash-safe execution with compare-and-swap, verification. No Prefect."""
