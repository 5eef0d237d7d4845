#!/usr/bin/env bash
# Traceroute through routers with Linux's default ICMP rate limits: `icmpkit traceroute` (raw
# and dgram) against traceroute(8) `-I -n`, on a chain that this script builds out of network
# namespaces: a client, 8 routers and a target (9 hops). Every node has the ICMP rate limits of
# a Linux router at the kernel's documented defaults: net.ipv4.icmp_ratelimit=1000,
# net.ipv6.icmp.ratelimit=1000 (ms), net.ipv4.icmp_msgs_per_sec=1000, net.ipv4.icmp_msgs_burst=50
# (a burst of 6 errors to each destination, then one a second).
#
# Each contender runs RUNS times back to back (default 10), each run a new process, for IPv4
# and IPv6; between contenders the script waits REFILL seconds (default 7) so that the routers'
# buckets are full again and every contender starts alike. For each run it prints the answers
# at each hop ("distance:answers", 3 when none was lost) and the time; then, per contender, the
# runs with every hop answered 3 of 3, the answers lost, and the median and largest time.
#
#   bench/ratelimit.sh
#   RUNS=5 FAMILIES=4 MODES=raw bench/ratelimit.sh
#
# Settings, the same for every contender: ICMP echo probes, 3 probes a hop (-q 3), no wait
# between probes (-z 0), at most 2 s of wait for a probe (-W 2 / -w 2), at most 30 hops, numeric
# output. traceroute(8) loses what the limits take; icmpkit learns each router's limit, paces
# its probes to it and sends again the probes the limit took.
#
# Goal: every icmpkit run answers 3 of 3 at every hop, in at most 3 s plus one timeout (5 s).
#
# Needs root, ip(8), traceroute(8) and Go. The namespaces are named ikr<pid>-<node> and deleted
# on exit; addresses come from 198.18.0.0/15 and 2001:db8::/32 alone.
set -euo pipefail
# shellcheck source=bench/isolate.sh
source "$(dirname "${BASH_SOURCE[0]}")/isolate.sh"

RUNS=${RUNS:-10}
REFILL=${REFILL:-7}
FAMILIES=${FAMILIES:-4 6}
MODES=${MODES:-raw dgram}
ROUTERS=8 # the target is ROUTERS+1 hops away
HOPS=$((ROUTERS + 1))
GOAL_MS=5000

die() {
	printf 'ratelimit.sh: %s\n' "$*" >&2
	exit 1
}
log() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (it builds network namespaces)"
for c in ip traceroute go; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c on PATH"
done
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 (EPOCHREALTIME)"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/icmpkit-ratelimit.XXXXXX")
chmod 755 "$TMP"
P=ikr$$

# shellcheck source=bench/chain.sh
. "$ROOT/bench/chain.sh"

# answers FILE: "distance:answers" for each distance 1..HOPS of a traceroute(8)-style output
# (answers: the times on its line), and the answers lost in all, after "lost=".
answers() {
	awk -v hops="$HOPS" '$1 ~ /^[0-9]+$/ { n = 0; for (i = 2; i <= NF; i++) if ($i == "ms") n++; got[$1] = n }
	END {
		lost = 0
		for (d = 1; d <= hops; d++) { n = (d in got) ? got[d] : 0; printf "%d:%d ", d, n; lost += 3 - n }
		printf "lost=%d", lost
	}' "$1"
}

# contender LABEL F CMD: RUNS runs of CMD back to back in the client's namespace, one line each.
contender() {
	local label=$1 f=$2 cmd=$3 r start end ms out got
	for ((r = 1; r <= RUNS; r++)); do
		out=$TMP/$label-$f.$r
		start=${EPOCHREALTIME/./}
		ip netns exec "$(node 0)" bash -c "$cmd" >"$out" 2>&1 || true
		end=${EPOCHREALTIME/./}
		ms=$(((end - start) / 1000))
		got=$(answers "$out")
		printf '  %-16s IPv%s run %2d: %6d ms  %s\n' "$label" "$f" "$r" "$ms" "$got"
		echo "$ms ${got##*lost=}" >>"$TMP/$label-$f"
	done
}

# summary LABEL F: the runs with every hop 3 of 3, answers lost, median and largest time.
summary() {
	sort -n "$TMP/$1-$2" | awk -v label="$1" -v f="$2" -v runs="$RUNS" -v goal="$GOAL_MS" '
	{ t[NR] = $1; lost += $2; if ($2 == 0) exact++; if ($1 > max) max = $1 }
	END {
		med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		note = ""
		if (label ~ /^icmpkit/) note = (exact == runs && max <= goal) ? "goal met" : "GOAL MISSED (every hop 3/3, at most " goal " ms)"
		printf "%-16s IPv%s: %2d of %d runs with every hop 3/3, %3d answers lost, median %6d ms, max %6d ms  %s\n",
			label, f, exact, runs, lost, med, max, note
	}'
}

log "building icmpkit"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$TMP/icmpkit" ./cmd/icmpkit)
chmod 755 "$TMP/icmpkit"
log "building a chain of $ROUTERS routers ($HOPS hops), Linux's default ICMP rate limits, in namespaces $P-*"
build_chain net.ipv4.icmp_ratelimit=1000 net.ipv6.icmp.ratelimit=1000 \
	net.ipv4.icmp_msgs_per_sec=1000 net.ipv4.icmp_msgs_burst=50 \
	net.ipv4.icmp_ratemask=6168 net.ipv6.icmp.ratemask=0-1,3-127
for f in $FAMILIES; do
	ip netns exec "$(node 0)" ping -"$f" -c 1 -W 2 "$(target "$f")" >/dev/null ||
		die "the target $(target "$f") does not answer through the chain"
done

I=$TMP/icmpkit
labels=()
for f in $FAMILIES; do
	dst=$(target "$f")
	for m in $MODES; do
		log "IPv$f: waiting ${REFILL}s for the routers' buckets to refill"
		sleep "$REFILL"
		log "IPv$f: icmpkit --mode $m, $RUNS runs back to back"
		contender "icmpkit-$m" "$f" "$I traceroute -$f --mode $m -n -q 3 -z 0 -W 2 -m 30 $dst"
		labels+=("icmpkit-$m $f")
	done
	log "IPv$f: waiting ${REFILL}s for the routers' buckets to refill"
	sleep "$REFILL"
	log "IPv$f: traceroute -I, $RUNS runs back to back"
	contender "traceroute-I" "$f" "traceroute -$f -I -n -q 3 -z 0 -w 2 -m 30 $dst"
	labels+=("traceroute-I $f")
done

echo
echo "== traceroute over $HOPS hops ($ROUTERS rate-limited routers), -q 3 -z 0, wait 2 s, $RUNS runs back to back"
for l in "${labels[@]}"; do
	# shellcheck disable=SC2086
	summary $l
done
