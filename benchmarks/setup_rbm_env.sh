#!/usr/bin/env bash
# The RBM speed benchmark's own environment: scikit-learn's BernoulliRBM and learnergy are
# compared against layerwise, but neither is a dependency of the project. torch==2.13.0 goes in
# first (the CPU build from local disk), so that nothing resolves a newer torch.
set -euo pipefail
VENV=${1:-/tmp/layerwise-bench-venv}
HERE=$(cd "$(dirname "$0")/.." && pwd)
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q "torch==2.13.0" learnergy scikit-learn
"$VENV/bin/python" -m pip install -q -e "$HERE"
"$VENV/bin/python" -c "import torch, learnergy, sklearn; print('torch', torch.__version__, 'learnergy', learnergy.__version__, 'sklearn', sklearn.__version__)"
