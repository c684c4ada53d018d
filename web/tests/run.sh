#!/usr/bin/env bash
# Browser tests of the web client: Debian's headless Chromium driven by playwright-core against a real
# `pinit serve`. Exits non-zero when a test fails.
#
#   web/tests/run.sh                    every test (*.test.js)
#   web/tests/run.sh push.test.js       some of them
#   PINIT_BIN=path/to/pinit             use that binary (default: build target/debug/pinit)
#   PINIT_WEB_FAKE_API=1                answer /v2/** and /v0/push/** from the in-test fake of the contract
#   PINIT_WEB_SCREENS=docs/screens      also write screenshots of every page at phone and desktop width
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"

if ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "chromium is missing: apt-get install chromium (or set CHROMIUM=/path/to/chromium)" >&2
    exit 2
  fi
fi
export CHROMIUM="$(command -v "${CHROMIUM:-chromium}")"

echo "==> npm ci (playwright-core; it downloads no browser)"
npm ci --no-audit --no-fund --loglevel=error

if [ -z "${PINIT_BIN:-}" ]; then
  echo "==> cargo build -p pinit"
  (cd "$root" && cargo build -p pinit)
  export PINIT_BIN="$root/target/debug/pinit"
fi
[ -x "$PINIT_BIN" ] || { echo "no pinit binary at $PINIT_BIN" >&2; exit 2; }

if [ "$#" -eq 0 ]; then set -- *.test.js; fi
echo "==> node --test $*"
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
