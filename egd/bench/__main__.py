"""``python -m egd.bench``: the transform benchmark (:mod:`egd.bench.transforms`)."""
import sys

from .transforms import main

sys.exit(main())
