"""Unit tests of retention purges and legal holds."""
