"""``python -m headwater``: the ``headwater`` command."""

from .cli.main import main

main()
