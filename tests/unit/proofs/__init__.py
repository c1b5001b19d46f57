"""Tests of the proof ledger."""
