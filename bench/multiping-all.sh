#!/usr/bin/env bash
# Runs every multiping bench in turn: multiping.sh (65,534 hosts against fping and icmplib),
# million.sh (1,048,574 hosts streamed to a file), halfdead.sh (half the hosts silent) and
# rate.sh (pacing). Environment variables (RUNS, MODES, ...) pass through.
set -euo pipefail
# shellcheck source=bench/isolate.sh
source "$(dirname "${BASH_SOURCE[0]}")/isolate.sh"
dir=$(dirname "$0")
for b in multiping million halfdead rate; do
	"$dir/$b.sh"
	echo
done
