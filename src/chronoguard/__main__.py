"""``python -m chronoguard`` runs the command line."""

from chronoguard.cli import main

main()
