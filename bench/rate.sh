#!/usr/bin/env bash
# Pacing: Multiping of the first 100,000 addresses of 127.0.0.0/15, count 1, at RATE requests
# per second (default 20,000), RUNS times (default 5), alternating with fping -i at the same
# interval. fping takes at most 65,535 targets, so it gets the first 65,534; its rate is its
# hosts over its wall time.
#
#   bench/rate.sh
#   RATE=50000 bench/rate.sh
#
# Goal: the rate achieved (requests over the time from the first to the last) within 5% of
# RATE.
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-20000}
N=${N:-100000}
setup_ns
build
modes
have_fping || log "bench: fping not installed (apt-get install -y fping): no fping figures"
"$DRIVER" -g 127.0.0.0/15 -n 65534 -list >"$TMP/fping-targets.txt"
interval=$(awk -v r="$RATE" 'BEGIN { printf "%g", 1000 / r }') # milliseconds

for ((i = 1; i <= RUNS; i++)); do
	log "run $i of $RUNS"
	for m in "${MODES_OK[@]}"; do
		measure "icmpkit-$m" in_ns "$DRIVER" -mode "$m" -g 127.0.0.0/15 -n "$N" -c 1 -rate "$RATE"
		if have_fping; then
			measure fping in_ns "$DRIVER" exec -- fping -c1 -q -i "$interval" -f "$TMP/fping-targets.txt"
			tail -n 1 "$TMP/fping.wall" | awk '{ printf "%.0f\n", 65534 / $1 }' >>"$TMP/fping.rate"
		fi
	done
done

# pace FIGURE VALUE: the rate against RATE, goal within 5%.
pace() {
	awk -v fig="$1" -v v="$2" -v r="$RATE" 'BEGIN {
		if (v == "-") { printf "%-44s icmpkit %10s /s\n", fig, v; exit }
		q = v / r
		printf "%-44s icmpkit %10s /s    asked %9s /s      ratio %5.3f   goal 0.95..1.05   %s\n", fig, v, r, q, (q >= 0.95 && q <= 1.05) ? "met" : "NOT MET"
	}'
}

echo
echo "== multiping of $N hosts, count 1, at $RATE requests/s: medians of $RUNS alternating runs"
for m in "${MODES_OK[@]}"; do
	l=icmpkit-$m
	pace "$m: rate, first request to last" "$(med "$l" send_pps)"
	info "$m: hosts/s over the whole run" "$(med "$l" hosts_per_s) /s (wall $(med "$l" wall) s, CPU $(med "$l" cpu) s)"
	absolute "$m: hosts alive (every run)" "$(sum "$l" alive)" "" "==" "$(sum "$l" hosts)"
done
if [ -s "$TMP/fping.rate" ]; then
	info "fping -i $interval, 65,534 hosts" "$(med fping rate) hosts/s over its wall time (wall $(med fping wall) s, CPU $(med fping cpu) s)"
fi
