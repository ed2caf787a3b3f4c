"""``python -m course_utils COMMAND``: the same as the ``course`` command (:mod:`course_utils.cli`)."""

import sys

from .cli import main

sys.exit(main())
