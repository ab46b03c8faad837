#!/usr/bin/env bash
# The GPU checks of the fast paths in one go, sized for one device call (about 8 minutes on an
# H100): the CUDA-only tests (graph == eager, BatchNorm, fall-back), the throughput table, and
# the time-to-accuracy runs (MNIST fast and eager; ResNet-56 fast only, about 4 minutes).
#
#     SUPERCONV_DATA=.data bash benchmarks/gpu_checks.sh        # from the repository root
#
# Logs go to $OUT (the device tool's folder) or /tmp/superconv-gpu.
set -o pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
out="${OUT:-/tmp/superconv-gpu}"
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'" || exit 1
status=0
python -m pytest -q -p no:cacheprovider -o addopts="" tests/test_fast.py tests/test_train.py \
    2>&1 | tee "$out/tests.log" || status=1
python benchmarks/throughput.py 2>&1 | tee "$out/throughput.txt" || status=1
python benchmarks/time_to_accuracy.py --only mnist 2>&1 | tee "$out/time_to_accuracy.txt" || status=1
python benchmarks/time_to_accuracy.py --only resnet56 --modes auto 2>&1 \
    | tee -a "$out/time_to_accuracy.txt" || status=1
exit $status
