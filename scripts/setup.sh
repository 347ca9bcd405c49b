#!/usr/bin/env bash
# Installs everything cvtools needs on Debian 12, idempotently: Debian packages
# that are missing (apt-get), then the PyPI packages that only tests and
# benchmarks use. Safe to run again; skips what is present.
#
#   scripts/setup.sh            # build + test dependencies
#   CVT_SKIP_PIP=1 scripts/setup.sh   # Debian packages only
# PyPI packages go into a venv, $CVT_VENV (default ~/.cache/cvtools/venv).
set -euo pipefail

DEBIAN_PACKAGES=(
  bazel-bootstrap bazel-bootstrap-source bazel-skylib pkgconf g++ clang-format
  libtorch-dev libgloo-dev libopencv-dev libabsl-dev libprotobuf-dev protobuf-compiler
  rapidjson-dev libcurl4-openssl-dev libssl-dev libgtest-dev libgmock-dev
  libgoogle-glog-dev libbenchmark-dev zlib1g-dev python3 python3-pip python3-venv rsync
  python3-torch python3-torchvision
)
# PyPI packages used only by tests and benchmarks (oracles and peers), pinned.
PIP_PACKAGES=(
  "numpy==2.3.5"
  "pycocotools==2.0.11"
  "scipy==1.16.3"
)
# The MLflow tracking server and client for mlflow_push's integration tests.
MLFLOW_PACKAGES=(
  "mlflow==3.17.2"
)
PYTHON="${CVT_PYTHON:-python3}"

log() { echo "setup: $*" >&2; }

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages present"
fi

# install_venv VENV PACKAGE==VERSION...: creates VENV if needed and pip-installs
# the pinned packages that are missing or at another version.
install_venv() {
  local venv="$1"
  shift
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    "$PYTHON" -m venv "$venv"
  fi
  local need_pip=0 spec name want have
  for spec in "$@"; do
    name="${spec%%[<>=]*}"
    want="${spec#*==}"
    have=$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)
    if [ -z "$have" ] || { [ "$want" != "$spec" ] && [ "$have" != "$want" ]; }; then need_pip=1; fi
  done
  if [ "$need_pip" = 1 ]; then
    log "installing into $venv: $*"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
  else
    log "PyPI packages present in $venv"
  fi
}

# The test oracles live in their own venvs, so the system Python (which may
# refuse pip as "externally managed") and the user's packages stay untouched:
# numpy is pinned for the bit-exact COCO oracle, and MLflow (a real tracking
# server and the Python client that checks what mlflow_push wrote) gets its
# own venv because it pins numpy differently.
if [ "${CVT_SKIP_PIP:-0}" != 1 ]; then
  install_venv "${CVT_VENV:-$HOME/.cache/cvtools/venv}" "${PIP_PACKAGES[@]}"
  install_venv "${CVT_MLFLOW_VENV:-$HOME/.cache/cvtools/mlflow-venv}" "${MLFLOW_PACKAGES[@]}"
fi
