"""``python -m ember.serve --model_name NAME --model_base_path DIR`` (same flags as ``ember serve``)."""

import sys

from .cli import main

sys.exit(main())
