#!/usr/bin/env bash
# The main job: set up the environment if needed (tools/setup_env.sh), then
# generate the embedded data, train HASM, TDR and SHPE with their small CPU
# configs, compare "SHPE alone" with "HDR + SHPE" on the generated test
# split and write demo panels (tools/hdr_main_job.py).
#   bash tools/run_main_job.sh [--work-dir work_dirs/main_job]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
VENV="$VENV" bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "$VENV/bin/python" tools/hdr_main_job.py "$@"
