"""Entry point of the frozen (PyInstaller) build: the same as the `photogate` console script."""

import multiprocessing
import sys

from agent.commands.cli import main

if __name__ == "__main__":
    # A frozen program that starts child processes through multiprocessing must call this first,
    # or each child would run the whole CLI again.
    multiprocessing.freeze_support()
    sys.exit(main())
