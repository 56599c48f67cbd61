"""``python -m gradcheck_kit`` runs the command line."""

from .cli import entry

entry()
