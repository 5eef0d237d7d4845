#!/usr/bin/env bash
# Multiping of 65,534 loopback hosts of which half never answer: in a network namespace of its
# own, a firewall rule drops every packet to 127.0.128.0/17 (32,767 silent hosts) while
# 127.0.0.1-127.0.127.255 (32,767 hosts) answer. icmpkit and fping -c1 -i0 -q -t run
# alternately, RUNS times each (default 5), with a timeout of TIMEOUT seconds (default 1).
#
#   bench/halfdead.sh
#   TIMEOUT=2 bench/halfdead.sh
#
# Goal: the total time at most the send time (first request to last) plus the timeout, plus 10%.
# Needs root, ip(8) and nft(8) or iptables(8); without them it says so and exits 0.
source "$(dirname "$0")/lib.sh"

CIDR=127.0.0.0/16
DEAD=127.0.128.0/17
TIMEOUT=${TIMEOUT:-1}
setup_ns
if [ -z "$NS" ]; then
	log "bench: halfdead needs a network namespace of its own (root and ip(8)); skipped"
	exit 0
fi
if command -v nft >/dev/null 2>&1 &&
	in_ns nft -f - <<NFT 2>"$TMP/err"; then
table ip icmpkit_bench {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr $DEAD drop
	}
}
NFT
	log "bench: nft drops everything to $DEAD"
elif command -v iptables >/dev/null 2>&1 && in_ns iptables -A INPUT -d "$DEAD" -j DROP 2>"$TMP/err"; then
	log "bench: iptables drops everything to $DEAD"
else
	log "bench: cannot make $DEAD silent (no nft or iptables that works: $(tail -n 1 "$TMP/err")); skipped"
	exit 0
fi
build
modes
have_fping || log "bench: fping not installed (apt-get install -y fping): no fping figures"

# bound LABEL files, for the run just measured, its wall time over send time plus timeout.
bound() {
	local l=$1
	[ -s "$TMP/$l.wall" ] || return 0
	paste "$TMP/$l.wall" "$TMP/$l.send_s" | tail -n 1 |
		awk -v t="$TIMEOUT" '{ printf "%.4f\n", $1 / ($2 + t) }' >>"$TMP/$l.bound"
}

ms=$(awk -v t="$TIMEOUT" 'BEGIN { printf "%d", t * 1000 }')
for ((i = 1; i <= RUNS; i++)); do
	log "run $i of $RUNS"
	for m in "${MODES_OK[@]}"; do
		measure "icmpkit-$m" in_ns "$DRIVER" -mode "$m" -g "$CIDR" -c 1 -W "$TIMEOUT"
		bound "icmpkit-$m"
		if have_fping; then
			measure fping in_ns "$DRIVER" exec -- fping -c1 -i0 -q -t "$ms" -g "$CIDR"
		fi
	done
done

echo
echo "== multiping of $CIDR with $DEAD silent, count 1, timeout $TIMEOUT s: medians of $RUNS alternating runs"
for m in "${MODES_OK[@]}"; do
	l=icmpkit-$m
	absolute "$m: hosts alive (every run)" "$(sum "$l" alive)" "" "==" "$((32767 * $(count "$l" alive)))"
	info "$m: send time (first request to last)" "$(med "$l" send_s) s"
	absolute "$m: total time / (send time + timeout)" "$(med "$l" bound)" "" "<=" 1.10
	versus "$m: total time" "$(med "$l" wall)" s fping "$(med fping wall)"
	versus "$m: CPU time (user+sys)" "$(med "$l" cpu)" s fping "$(med fping cpu)"
done
