#!/usr/bin/env bash
# The onboard install on another Python (the Jetson's 3.10, or 3.12): a fresh virtualenv with the
# core + `onboard` extra only (no torch, no detectron2), then the tests of everything the onboard
# computer runs. Usage: scripts/test_onboard_python.sh [PYTHON]   (default: python3.10)
# Exits 0 with a note when that Python is not on the machine (pyenv: ~/.pyenv/versions/3.10.*).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3.10}"
runs() { "$1" -c 'import sys' >/dev/null 2>&1; }  # a pyenv shim exists but may not run
if ! runs "$PY"; then
    for cand in "$HOME"/.pyenv/versions/"${PY#python}".*/bin/python; do
        runs "$cand" && PY="$cand" && break
    done
fi
if ! runs "$PY"; then
    echo "test_onboard_python: $PY not found; skipped (install it, e.g. pyenv install 3.10)"
    exit 0
fi
VER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV=".venv-onboard-$VER"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --editable '.[onboard]' 'pytest>=8' 'onnx>=1.16'
# nothing of the onboard path may need torch: prove it is absent
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
bad = [m for m in ("torch", "torchvision", "detectron2") if importlib.util.find_spec(m)]
sys.exit(f"the onboard install pulled in {bad}" if bad else 0)
PY
echo "Python $VER: onboard install without torch; running the onboard tests"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -o addopts="" \
    --import-mode=importlib -m "not gpu and not slow" \
    tests/missions/test_onboard_link.py tests/missions/test_onboard_fly.py \
    tests/models/test_runtime_notorch.py tests/survey/test_no_torch_install.py \
    tests/geo tests/thermal tests/survey/telemetry tests/survey/test_config.py
