#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with the verified
# OpenMMLab stack, then install hdr_mm into it.
#
#   bash tools/setup_env.sh            # -> .venv
#   VENV=/path/to/venv bash tools/setup_env.sh
#
# Idempotent: on a ready environment every step is a no-op check and the
# script finishes in seconds. mmcv is compiled once (about 10 minutes on
# 2 cores); pip's wheel cache makes a re-install take seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
C="$ROOT/requirements/constraints.txt"
STAMP="$VENV/.hdr_mm_stack"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)

# The stamp holds a hash of the requirement files: when it matches, the
# stack is already installed and only hdr_mm itself is refreshed.
want="$(cat "$ROOT"/requirements/*.txt | sha1sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "[setup] installing build tools and torch"
  "${PIP[@]}" install -q -c "$C" -r "$ROOT/requirements/build.txt"
  "${PIP[@]}" install -q -c "$C" "torch===2.13.0" "torchvision==0.28.0"
  if ! "$VPY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    echo "[setup] building mmcv 2.1.0 with ops (about 10 min on 2 cores the first time)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" FORCE_CUDA=0 \
      "${PIP[@]}" install -q --no-build-isolation -c "$C" "mmcv==2.1.0"
  fi
  echo "[setup] installing the OpenMMLab stack"
  "${PIP[@]}" install -q -c "$C" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
  "${PIP[@]}" install -q --no-deps -c "$C" "mmpose==1.3.2"
  echo "$want" > "$STAMP"
fi

echo "[setup] installing hdr_mm"
"${PIP[@]}" install -q --no-deps --no-build-isolation "$ROOT"
"$VPY" -c "import hdr_mm, mmpose.apis, mmdet.models, mmseg.models, mmcv.ops; print('[setup] ok: hdr_mm', hdr_mm.__version__)"
