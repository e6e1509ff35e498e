"""`python -m agent` is the same as the `photogate` command."""

import sys

from agent.commands.cli import main

sys.exit(main())
