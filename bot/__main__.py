"""``python -m bot`` is the same CLI as ``mjbot``."""

import sys

from bot.cli import main

sys.exit(main())
