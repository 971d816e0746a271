"""`python -m bot …`: see bot/cli.py."""

import sys

from bot.cli import main

# Guarded: build workers are spawned processes that import this module again.
if __name__ == "__main__":
    sys.exit(main())
