#!/usr/bin/env bash
# Runs the whole test suite (unit tests and real-namespace integration tests) and ends with
# one plain line "N passed, N failed". Does its own set-up first.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

out=$(mktemp)
# TAP gives one line per test; ava's own summary is not what CI reads.
npx --no-install ava --tap "$@" | tee "$out"
status=${PIPESTATUS[0]}
passed=$(grep -cE '^ok [0-9]+' "$out" || true)
failed=$(grep -cE '^not ok [0-9]+' "$out" || true)
rm -f "$out"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # ava failed without a failing test (an uncaught error, a timeout in a hook…): count it.
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
