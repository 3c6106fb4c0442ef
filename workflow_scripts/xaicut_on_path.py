"""Put this repository first on ``sys.path`` so that rule scripts import its ``xaicut`` package.

Snakemake adds this folder to a rule script's ``sys.path``; importing this module first makes
``import xaicut`` work in any environment the rule runs in (the project's virtualenv, a rule's
conda env from ``envs/``, a cluster node with the repository on shared disk), without setting
``PYTHONPATH`` for the whole workflow.
"""

import sys
from pathlib import Path

REPOSITORY = str(Path(__file__).resolve().parents[1])
if REPOSITORY not in sys.path:
    sys.path.insert(0, REPOSITORY)
