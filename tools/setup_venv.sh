#!/usr/bin/env bash
# Create .venv from nothing and install egd-grokking (editable) with its extras.
#
# torch: where no NVIDIA GPU is visible we install the CPU build instead of the
# multi-GB CUDA build that a plain `pip install torch` resolves to.  We try, in
# order: a local CPU wheel through pip's find-links (offline machines such as
# our CI), then the official CPU index.  On a GPU machine, or when torch is
# already importable in the venv, torch is left alone.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_CPU_VERSION=${TORCH_CPU_VERSION:-2.13.0}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

if "$PY" -c "import torch" 2>/dev/null; then
    echo "[setup] torch $("$PY" -c 'import torch; print(torch.__version__)') already present: left alone"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "[setup] NVIDIA GPU found: torch will come from the default index (CUDA build)"
else
    echo "[setup] no GPU: installing the CPU build of torch"
    "${PIP[@]}" --only-binary=:all: "torch==${TORCH_CPU_VERSION}+cpu" 2>/dev/null \
        || "${PIP[@]}" --only-binary=:all: "torch==${TORCH_CPU_VERSION}" --index-url https://download.pytorch.org/whl/cpu \
        || "${PIP[@]}" --only-binary=:all: torch --index-url https://download.pytorch.org/whl/cpu
fi

echo "[setup] installing egd-grokking[book,test] (editable)"
"${PIP[@]}" -e ".[book,test]"
"$PY" -m ipykernel install --sys-prefix --name python3 >/dev/null
"$PY" -c "import toymodel, egd; print('[setup] toymodel', toymodel.__version__, '| egd', egd.__version__)"
