#!/usr/bin/env bash
# The Windows side of CI: icmpkit's Windows test binaries and icmpkit.exe, cross-compiled and
# run under Debian's wine64 inside a chain of network namespaces (integration/wine_linux_test.go
# does the work; internal/wine makes the Wine prefix).
# Called by .ci/run, as root; installs wine64 when missing. A skip cannot pass: with
# ICMPKIT_WINE=1 a missing wine64 fails the test, and its own PASS line is required below.
#
# No Wine process runs in this machine's network namespace: the integration test binary runs
# itself in a namespace of its own with only loopback (internal/lab's Isolate), builds the
# chain from there, starts the prefix's Wine session in the chain's client namespace, and
# checks that every process of the prefix it sees is there ("Wine processes seen" below). The
# prefix is new for each run, so no wineserver started elsewhere can serve it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's wine64 alone (23 packages) is all that is needed: no display, no 32-bit Wine, no
# Mono or Gecko. Its recommends would bring some eighty more.
if ! command -v wine64 >/dev/null && [ ! -x /usr/lib/wine/wine64 ]; then
	echo "installing: wine64"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends wine64 >/dev/null
fi
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
echo "wine: $("$wine" --version 2>/dev/null || echo unknown)"

start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ICMPKIT_WINE=1 ICMPKIT_REQUIRE_PRIV=1 go test -count=1 -v -timeout 15m -run '^TestWine$' ./integration >"$log" 2>&1 || status=$?
grep -E '^(=== RUN|\s*--- (PASS|FAIL|SKIP)|\s+wine_linux_test.go:[0-9]+: (lab|cross|Wine|Test))' "$log" || true
if [ "$status" -ne 0 ] || ! grep -q '^--- PASS: TestWine ' "$log"; then
	cat "$log"
	echo "the Windows tests under Wine failed"
	exit 1
fi
echo "Windows tests under Wine passed in $(($(date +%s) - start))s"
