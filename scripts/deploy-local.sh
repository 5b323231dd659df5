#!/usr/bin/env bash
# Quick start on a fresh Debian or Ubuntu machine, as root (or with passwordless sudo):
# install what the controller needs (a venv with Ansible and the probe modules' clients),
# then run `ansible-playbook site.yml` on the local target (inventories/local, Podman):
# host preparation, image builds, rollout, and the verify summary with the endpoints.
# Arguments go to ansible-playbook (e.g. -e base_image_source=registry).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-venv
fi

VENV="${NEURAL_HIVE_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[deploy]'

export PATH="$PWD/$VENV/bin:$PATH"
exec ansible-playbook site.yml "$@"
