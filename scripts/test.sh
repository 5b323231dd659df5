#!/usr/bin/env bash
# Run every test from scratch: system packages, the virtual environment, linters, type
# checks, pytest (unit and integration against real redis-server and a Kafka-protocol
# broker), yamllint and ansible-lint, then both Molecule scenarios: `render` (every
# inventory's manifests, validated) and `phase3` (the whole rollout on Podman here).
# Debian or Ubuntu, as root or with passwordless sudo. `.ci/run` calls this.
# Arguments go to pytest; NEURAL_HIVE_SKIP_MOLECULE=1 stops after the linters;
# NEURAL_HIVE_SKIP_PHASE3=1 leaves out the phase3 scenario.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_PACKAGES=(redis-server ffmpeg espeak-ng)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing system packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

VENV="${NEURAL_HIVE_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
echo "== installing the package and its test dependencies into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== mypy"
"$VENV/bin/mypy"
echo "== pytest"
"$VENV/bin/pytest" "$@"

# Molecule and ansible-lint start ansible-playbook by name from other folders: put the
# venv's bin on PATH as an absolute path.
export PATH="$(cd "$VENV/bin" && pwd):$PATH"
echo "== yamllint and ansible-lint (production profile)"
"$VENV/bin/yamllint" -s .
ansible-lint -q

if [ "${NEURAL_HIVE_SKIP_MOLECULE:-0}" = "1" ]; then
  echo "== molecule skipped (NEURAL_HIVE_SKIP_MOLECULE=1)"
  exit 0
fi
echo "== molecule: render (every inventory, no containers)"
molecule test -s render
# The phase3 scenario builds every image (unless the podman store has them already) and
# rolls the stack out here; it replaces a stack deployed from another checkout.
if [ "${NEURAL_HIVE_SKIP_PHASE3:-0}" = "1" ]; then
  echo "== molecule phase3 skipped (NEURAL_HIVE_SKIP_PHASE3=1)"
else
  echo "== molecule: phase3 (the rollout on Podman: create, converge, idempotence, verify, destroy)"
  molecule test -s phase3
fi
