"""`python -m dsr` runs the command line."""

from dsr.cli import main

main()
