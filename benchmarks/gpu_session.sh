#!/usr/bin/env bash
# The GPU checks, in one command, for a machine with an NVIDIA GPU and a CUDA build of
# torch (plus numpy, scipy, sympy, tqdm, pytest) already installed. Nothing is installed
# here: the CPU-only venv of `make setup` cannot see a GPU.
#
#   bash benchmarks/gpu_session.sh            # OUT defaults to ./gpu-out
#   RUNS_TIME_LIMIT_S=400 bash benchmarks/gpu_session.sh   # stop the training runs after 400 s
#
# What it does, in order, writing everything to $OUT:
#   1. the CUDA tests (tests skipped on a CPU machine),           log.txt
#   2. the transform benchmark on the GPU,                        transforms_cuda.json
#   3. the epoch benchmark (vanilla vs EGD, timed in turn),        epoch_cuda.json
#      and the throughput benchmark (one run at a time vs batches   throughput_cuda.json
#      of 10 and 64 runs on the GPU),
#   4. the GPU comparison of the modular chapter: mod-add p=97,   results_gpu.tar
#      vanilla / EGD-svd / EGD-rsvd r=128 / colnorm, 3 seeds
#      (`egd-grok reproduce gpu-comparison`; finished runs are reused, interrupted
#      ones resume from their checkpoints).
# Back on the development machine: copy the JSON files to benchmarks/results/, run
# `tar -xf results_gpu.tar` at the repository root, commit; the chapters "Computing U V^T"
# and "Modular arithmetic" then show the GPU numbers labelled with the device's name.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "no CUDA device visible to torch")'
# pack whatever finished (and the checkpoints of what did not) even when a step fails or
# the machine's time runs out: a rerun with the tar unpacked resumes from there
trap 'mkdir -p results/gpu; tar -cf "$OUT/results_gpu.tar" results/gpu; echo "wrote $OUT: $(ls "$OUT" | tr "\n" " ")"' EXIT
{
    "$PY" -c 'import torch; print("torch", torch.__version__, "on", torch.cuda.get_device_name())'
    "$PY" -m pytest -q -p no:cacheprovider tests/egd/test_train.py tests/egd/test_optim.py tests/egd/test_transforms.py
    "$PY" -m egd.bench --devices cuda --out-dir "$OUT"
    "$PY" -m egd.bench.epoch --device cuda --methods vanilla egd-svd egd-gram egd-rsvd colnorm --out "$OUT/epoch_cuda.json"
    "$PY" -m egd.bench.throughput --gpu-only --rounds 2 --out "$OUT/throughput_cuda.json"
    # RUNS_TIME_LIMIT_S (default 0: none) stops the runs in time for the tar on a machine lent
    # for a fixed time; interrupted runs resume from their checkpoints on the next call
    timeout "${RUNS_TIME_LIMIT_S:-0}" "$PY" -m egd.grokking.cli reproduce gpu-comparison --device cuda --no-progress
} 2>&1 | tee "$OUT/log.txt"
