#!/usr/bin/env bash
# Multiping of 1,048,574 loopback hosts (127.0.0.0/12 but network and broadcast), count 1,
# through MultipingSeq with every host written to a file as it completes, against runs of
# 65,534 hosts (127.0.0.0/16) made alternately in the same namespace: the non-streaming
# Multiping of bench/multiping.sh, and the same streaming-to-a-file run. RUNS times each
# (default 5).
#
#   bench/million.sh
#   RUNS=3 MODES=dgram bench/million.sh
#
# Goals: every host alive, no reply lost, peak RSS at most 150 MB, and hosts per second at
# least 90% of the 65,534-host run's. fping, which refuses more than 65,535 targets, is tried
# once for the record.
source "$(dirname "$0")/lib.sh"

BIG=${BIG:-127.0.0.0/12}
SMALL=${SMALL:-127.0.0.0/16}
setup_ns
build
modes

for ((i = 1; i <= RUNS; i++)); do
	log "run $i of $RUNS"
	for m in "${MODES_OK[@]}"; do
		measure "small-$m" in_ns "$DRIVER" -mode "$m" -g "$SMALL" -c 1
		measure "smallfile-$m" in_ns "$DRIVER" -mode "$m" -g "$SMALL" -c 1 -stream -o "$TMP/hosts.txt"
		measure "big-$m" in_ns "$DRIVER" -mode "$m" -g "$BIG" -c 1 -stream -o "$TMP/hosts.txt"
		lines=$(wc -l <"$TMP/hosts.txt" | tr -d ' ')
		printf '%s\n' "$lines" >>"$TMP/big-$m.lines"
		rm -f "$TMP/hosts.txt"
	done
done

fping_says=""
if have_fping; then
	fping_says=$(in_ns fping -c1 -i0 -q -g "$BIG" 2>&1 >/dev/null | grep -m1 -i error || true)
fi

echo
echo "== multiping of $BIG ($(med "big-${MODES_OK[0]:-raw}" hosts) hosts), count 1, streamed to a file: medians of $RUNS alternating runs"
for m in "${MODES_OK[@]}"; do
	l=big-$m
	absolute "$m: hosts alive (every run)" "$(sum "$l" alive)" "" "==" "$(sum "$l" hosts)"
	absolute "$m: lines in the output file (every run)" "$(sum "$l" lines)" "" "==" "$(sum "$l" hosts)"
	absolute "$m: replies lost (every run)" "$(sum "$l" lost)" "" "==" 0
	absolute "$m: peak RSS" "$(med "$l" rss_mb)" MB "<=" 150
	info "$m: wall time" "$(med "$l" wall) s (CPU $(med "$l" cpu) s)"
	ratio "$m: hosts/s against 65,534-host Multiping" "$(med "$l" hosts_per_s)" "/s" "65k" "$(med "small-$m" hosts_per_s)" ">=" 0.9
	ratio "$m: hosts/s against 65,534 streamed to file" "$(med "$l" hosts_per_s)" "/s" "65k-file" "$(med "smallfile-$m" hosts_per_s)" ">=" 0.9
done
if [ -n "$fping_says" ]; then
	info "fping -c1 -i0 -q -g $BIG" "$fping_says"
fi
