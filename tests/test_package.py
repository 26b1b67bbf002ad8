"""The distribution installs two import packages that report the same version."""

import re
import subprocess
import sys
from pathlib import Path

import egd
import toymodel

REPO = Path(__file__).resolve().parents[1]


def test_versions_match_pyproject():
    declared = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert declared is not None
    assert egd.__version__ == toymodel.__version__ == declared.group(1)


def test_toymodel_does_not_import_torch():
    # toymodel is the numpy/scipy/sympy half: usable without torch installed
    code = "import sys, toymodel; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
