#!/usr/bin/env bash
# Multiping of 65,534 loopback hosts (127.0.0.0/16 but network and broadcast), count 1, every
# host alive: icmpkit's Multiping in raw and in dgram mode against fping -c1 -i0 -q -g and
# icmplib's multiping, run alternately in one network namespace, RUNS times each (default 5).
# Prints one line per figure: the medians, their ratio and the goal.
#
#   bench/multiping.sh
#   RUNS=9 MODES=raw bench/multiping.sh
#
# Goals: wall time at most 0.7 times fping's and CPU time (user+sys) at most fping's, in each
# mode; peak RSS of a non-streaming Multiping at most 60 MB. A reference that is not
# installed is skipped.
source "$(dirname "$0")/lib.sh"

CIDR=${CIDR:-127.0.0.0/16}
setup_ns
build
modes
have_fping || log "bench: fping not installed (apt-get install -y fping): no fping figures"
have_icmplib || log "bench: icmplib not importable by $PYTHON (apt-get install -y python3-icmplib): no icmplib figures"

for ((i = 1; i <= RUNS; i++)); do
	log "run $i of $RUNS"
	for m in "${MODES_OK[@]}"; do
		measure "icmpkit-$m" in_ns "$DRIVER" -mode "$m" -g "$CIDR" -c 1
		if have_fping; then
			measure fping in_ns "$DRIVER" exec -- fping -c1 -i0 -q -g "$CIDR"
		fi
	done
	if [ "${BENCH_ICMPLIB:-1}" = 1 ] && have_icmplib; then
		for m in "${MODES_OK[@]}"; do
			measure "icmplib-$m" in_ns "$DRIVER" exec -- "$PYTHON" "$BENCH_DIR/icmplib_multiping.py" "$CIDR" "$m" 1
		done
	fi
	if [ -n "$CLI" ]; then
		for m in "${MODES_OK[@]}"; do
			measure "cli-$m" in_ns "$DRIVER" exec -- "$CLI" multiping -c 1 --mode "$m" -g "$CIDR"
		done
	fi
done

hosts=$(med "icmpkit-${MODES_OK[0]:-raw}" hosts)
echo
echo "== multiping of $CIDR ($hosts hosts), count 1: medians of $RUNS alternating runs"
fw=$(med fping wall)
fc=$(med fping cpu)
for m in "${MODES_OK[@]}"; do
	l=icmpkit-$m
	ratio "$m: wall time" "$(med "$l" wall)" s fping "$fw" "<=" 0.7
	ratio "$m: CPU time (user+sys)" "$(med "$l" cpu)" s fping "$fc" "<=" 1.0
	absolute "$m: peak RSS, non-streaming Multiping" "$(med "$l" rss_mb)" MB "<=" 60 fping "$(med fping rss_mb)"
	absolute "$m: hosts alive (every run)" "$(sum "$l" alive)" "" "==" "$(sum "$l" hosts)"
	absolute "$m: replies lost (every run)" "$(sum "$l" lost)" "" "==" 0
	if [ -s "$TMP/icmplib-$m.wall" ]; then
		versus "$m: wall time against icmplib" "$(med "$l" wall)" s icmplib "$(med "icmplib-$m" wall)"
		info "$m: icmplib runs with every host alive" "$(grep -c '^0$' "$TMP/icmplib-$m.exit" || true) of $(count "icmplib-$m" exit)"
	fi
	if [ -s "$TMP/cli-$m.wall" ]; then
		info "$m: icmpkit CLI (multiping -c 1)" "wall $(med "cli-$m" wall) s, CPU $(med "cli-$m" cpu) s, peak RSS $(med "cli-$m" rss_mb) MB"
	fi
done
if [ -s "$TMP/fping.exit" ]; then
	info "fping runs with every host alive (exit 0)" "$(grep -c '^0$' "$TMP/fping.exit" || true) of $(count fping exit)"
fi
