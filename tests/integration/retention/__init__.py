"""Integration tests of the retention and deadline-watch flows."""
