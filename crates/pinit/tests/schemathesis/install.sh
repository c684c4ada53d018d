#!/usr/bin/env bash
# Installs the pinned schemathesis (requirements.txt, from PyPI) into a virtual environment and prints the path
# of its `schemathesis` executable; an environment that already has the pinned version is reused. `install.sh
# --check` installs nothing: it prints the path and exits 0 if the pinned version is there, else 1. The
# environment is made by crates/testkit/python-venv.sh (PINIT_PYTHON_VENVS, PYTHON: see there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$(bash "$here/../../../testkit/python-venv.sh" "$@" "$here/requirements.txt")"
echo "$(dirname "$python")/schemathesis"
