"""`python -m streamseg` runs the command line."""

from streamseg.cli import main

main()
