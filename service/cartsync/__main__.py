"""``python -m cartsync``: the command line."""

from .cli import main

main()
