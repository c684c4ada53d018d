#!/usr/bin/env bash
# A virtual environment for a test's pinned Python packages (a requirements file, from PyPI), made once and
# reused: prints the path of its `python`. The environment is keyed by the file's content, so a changed pin gets
# a new one. `python-venv.sh --check REQUIREMENTS` installs nothing: it prints the path and exits 0 if the
# environment is there, else exits 1 (tests use it to skip, or under CI to fail, with a clear message).
#   PINIT_PYTHON_VENVS  where environments live (default: ~/.cache/pinit/python)
#   PYTHON              the interpreter to make them with (default: python3; 3.9 or later)
set -euo pipefail
check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
requirements="${1:?usage: python-venv.sh [--check] REQUIREMENTS}"
[ -f "$requirements" ] || { echo "python-venv.sh: $requirements does not exist" >&2; exit 2; }
key="$(sha256sum "$requirements" | cut -c1-16)"
venv="${PINIT_PYTHON_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/pinit/python}/$key"
if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "$venv/bin/python"
  exit 0
fi
$check && exit 1
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"${PYTHON:-python3}" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
# Written last: its presence says the environment is complete.
cp "$requirements" "$venv/requirements.txt"
echo "$venv/bin/python"
