"""`python -m bytes2beats` (and `torchrun -m bytes2beats train ...`)."""

import sys

from bytes2beats.cli import main

sys.exit(main())
