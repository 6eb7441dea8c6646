#!/usr/bin/env bash
# Create benchmarks/.venv-pipecat with pipecat-ai 1.14.* and psutil (idempotent; fast when present).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-pipecat"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if "$VENV/bin/python" - <<'PYEOF' 2>/dev/null
import importlib.metadata as m, sys
v = m.version("pipecat-ai"); m.version("psutil")
sys.exit(0 if v.startswith("1.14.") else 1)
PYEOF
then
  echo "pipecat venv ready: $VENV ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("pipecat-ai", m.version("pipecat-ai"))'))" >&2
  exit 0
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pipecat-ai==1.14.*" psutil
echo "installed: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("pipecat-ai", m.version("pipecat-ai"), "psutil", m.version("psutil"))')" >&2
