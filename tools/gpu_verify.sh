#!/usr/bin/env bash
# The GPU verification run in one command (see tools/gpu_verify.py for the parts and budgets):
#
#     SUPERCONV_DATA=.data tools/gpu_verify.sh "$OUT"     # on a GPU machine: at most 9 minutes
#     tools/gpu_verify.sh --dry-run /tmp/verify           # on a CPU, tiny sizes: about a minute
#
# Uses the checkout's .venv when there is one, else python3 (the GPU machine's, with PyTorch);
# PYTHON=... picks another interpreter.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-}"
if [ -z "$py" ]; then
    if [ -x "$here/.venv/bin/python" ]; then py="$here/.venv/bin/python"; else py=python3; fi
fi
exec "$py" "$here/tools/gpu_verify.py" "$@"
