"""``python -m cxlens`` runs the command line."""

from cxlens.cli import main

main()
