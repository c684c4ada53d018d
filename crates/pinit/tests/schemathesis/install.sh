#!/usr/bin/env bash
# Installs the pinned schemathesis (requirements.txt, from PyPI) into a virtual environment and prints the path
# of its `schemathesis` executable. Idempotent: an environment that already has the pinned version is reused.
# `install.sh --check` installs nothing: it prints the path and exits 0 if the pinned version is there, else 1.
#   PINIT_SCHEMATHESIS_VENV  where the environment lives (default: ~/.cache/pinit/schemathesis-<version>)
#   PYTHON                   the interpreter (default: python3; 3.9 or later)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")"
venv="${PINIT_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pinit/schemathesis-$version}"
python="${PYTHON:-python3}"

if [ -x "$venv/bin/schemathesis" ] && "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$version"; then
  echo "$venv/bin/schemathesis"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  exit 1
fi
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
"$venv/bin/schemathesis" --version >&2
echo "$venv/bin/schemathesis"
