#!/usr/bin/env bash
# Traceroute wall time: `icmpkit traceroute` against traceroute(8) `-I -n`, on a chain that
# this script builds out of network namespaces: a client, 29 routers and a target, so the
# target is 30 hops away. Both tools run alternately inside the client's namespace, RUNS
# times each (default 7), for IPv4 and IPv6; then routers 2..21 (20 of them) are silenced and
# both run again, SILENT_RUNS times each (default 3). Prints the medians and their ratio.
#
#   bench/traceroute.sh
#   RUNS=11 SILENT_RUNS=1 FAMILIES=4 bench/traceroute.sh
#
# Settings, the same for both tools: ICMP echo probes, 3 probes a hop (-q 3), no wait between
# probes (-z 0, both tools' default), at most 2 s of wait for a probe (-w 2 / -W 2), at most 30
# hops (-m 30), numeric output; 16 probes in flight (traceroute's default -N 16, icmpkit's
# default window). icmpkit runs on raw sockets (--mode raw), as traceroute -I does. A further
# pair of lines times both with nothing but -n given (traceroute -I -n HOST, icmpkit traceroute
# -n HOST): each tool at its defaults.
# Every run's output is checked: every hop at its distance, the target at 30, and with silent
# routers exactly the 10 distances that answer; a run that does not match is reported.
#
# Goals: at most 2 times traceroute's time on the chain where every router answers; at most
# 3 s with the 20 silent routers (traceroute(8) takes far longer).
#
# Needs root, ip(8), nft(8), traceroute(8) and Go. The namespaces are named ikt<pid>-<node>
# and deleted on exit; addresses come from 198.18.0.0/15 and 2001:db8::/32 alone. Inside
# them, ICMP rate limits are lifted so that every router answers every probe.
set -euo pipefail
# shellcheck source=bench/isolate.sh
source "$(dirname "${BASH_SOURCE[0]}")/isolate.sh"

# Inside the client's namespace: run the commands alternately and print, for each run,
# "LABEL MICROSECONDS OUTPUTFILE", after WARM untimed rounds. Invoked by this script itself.
if [ "${1:-}" = --alternate ]; then
	runs=$2 dir=$3 warm=$4
	shift 4
	labels=() cmds=()
	while [ $# -gt 0 ]; do
		labels+=("$1")
		cmds+=("$2")
		shift 2
	done
	for ((r = 1; r <= warm; r++)); do # untimed: page cache, neighbour caches
		for i in "${!labels[@]}"; do
			eval "${cmds[$i]}" >/dev/null 2>&1 || true
		done
	done
	for ((r = 1; r <= runs; r++)); do
		for i in "${!labels[@]}"; do
			out="$dir/${labels[$i]}.$r"
			start=${EPOCHREALTIME/./}
			eval "${cmds[$i]}" >"$out" 2>&1 || true
			end=${EPOCHREALTIME/./}
			echo "${labels[$i]} $((end - start)) $out"
		done
	done
	exit 0
fi

RUNS=${RUNS:-7}
SILENT_RUNS=${SILENT_RUNS:-3}
FAMILIES=${FAMILIES:-4 6}
ROUTERS=29 # the target is ROUTERS+1 hops away
HOPS=$((ROUTERS + 1))
SILENT_FROM=2 SILENT_TO=21

die() {
	printf 'traceroute.sh: %s\n' "$*" >&2
	exit 1
}
log() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (it builds network namespaces)"
for c in ip nft traceroute go; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c on PATH"
done
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 (EPOCHREALTIME)"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/bench/traceroute.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/icmpkit-trace.XXXXXX")
chmod 755 "$TMP"
P=ikt$$

# shellcheck source=bench/chain.sh
. "$ROOT/bench/chain.sh"

# silence K: router K no longer sends time exceeded.
silence() {
	ip netns exec "$(node "$1")" nft -f - <<-'EOF'
		table inet iktrace {
			chain out {
				type filter hook output priority 0; policy accept;
				icmp type time-exceeded drop
				icmpv6 type time-exceeded drop
			}
		}
	EOF
}

# expected F SILENT: "distance:address" for each of the HOPS distances, "*" where silent.
expected() {
	local f=$1 silent=$2 k a
	for ((k = 1; k <= HOPS; k++)); do
		if [ "$k" = "$HOPS" ]; then
			a=$(target "$f")
		elif [ "$silent" = 1 ] && [ "$k" -ge "$SILENT_FROM" ] && [ "$k" -le "$SILENT_TO" ]; then
			a="*"
		else
			a=$(router "$k" "$f")
		fi
		printf '%s:%s ' "$k" "$a"
	done
}

# seen FILE: "distance:address" for each hop line of a traceroute(8)-style output; a line
# whose answering address comes with a "*" (a probe lost) gets "address+*".
seen() {
	awk '$1 ~ /^[0-9]+$/ {
		a = $2
		if (a != "*" && index($0, "*") > 0) a = a "+*"
		printf "%s:%s ", $1, a
	}' "$1"
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench CASE F RUNS SILENT LABEL CMD [LABEL CMD...]: times the commands alternately in the
# client's namespace (after one untimed round unless SILENT), checks each output, and files
# the times in ms under $TMP/CASE-F-LABEL.
bench() {
	local case=$1 f=$2 runs=$3 silent=$4 want label us out got warm=1
	shift 4
	[ "$silent" = 0 ] || warm=0
	want=$(expected "$f" "$silent")
	mkdir -p "$TMP/out"
	chmod 755 "$TMP/out"
	while read -r label us out; do
		printf '%s\n' "$(awk -v us="$us" 'BEGIN { printf "%.3f", us / 1000 }')" >>"$TMP/$case-$f-$label"
		got=$(seen "$out")
		if [ "$got" != "$want" ]; then
			log "  $case IPv$f $label: WRONG HOPS in one run"
			log "    want: $want"
			log "    got:  $got"
			sed 's/^/    | /' "$out" >&2
			echo x >>"$TMP/$case-$f-$label.wrong"
		fi
	done < <(ip netns exec "$(node 0)" bash "$SELF" --alternate "$runs" "$TMP/out" "$warm" "$@")
}

# line FIGURE A B GOAL: medians of A and B (files under $TMP), their ratio, and the goal.
line() {
	local fig=$1 a b ma mb wrong=""
	a=$TMP/$2 b=$TMP/$3
	ma=$(median "$a") mb=$(median "$b")
	if [ -e "$a.wrong" ] || [ -e "$b.wrong" ]; then
		wrong="  (some runs had wrong hops, see above)"
	fi
	awk -v fig="$fig" -v a="$ma" -v b="$mb" -v goal="$4" -v wrong="$wrong" 'BEGIN {
		printf "%-40s icmpkit %9.1f ms   traceroute(8) %9.1f ms   ratio %6.2f   %s%s\n", fig, a, b, a / b, goal, wrong
	}'
}

log "building icmpkit"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$TMP/icmpkit" ./cmd/icmpkit)
chmod 755 "$TMP/icmpkit"
log "building a chain of $ROUTERS routers ($HOPS hops) in namespaces $P-*"
build_chain net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
	net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=100000
for f in $FAMILIES; do
	ip netns exec "$(node 0)" ping -"$f" -c 1 -W 2 "$(target "$f")" >/dev/null ||
		die "the target $(target "$f") does not answer through the chain"
done

I=$TMP/icmpkit
for f in $FAMILIES; do
	dst=$(target "$f")
	log "IPv$f, every router answering: $RUNS runs of each, alternately"
	bench all "$f" "$RUNS" 0 \
		icmpkit "$I traceroute --mode raw -n -q 3 -z 0 -W 2 -m 30 $dst" \
		traceroute "traceroute -$f -I -n -q 3 -z 0 -w 2 -m 30 $dst" \
		icmpkit-defaults "$I traceroute -n $dst" \
		traceroute-defaults "traceroute -I -n $dst"
done
log "silencing routers $SILENT_FROM..$SILENT_TO"
for ((k = SILENT_FROM; k <= SILENT_TO; k++)); do
	silence "$k"
done
for f in $FAMILIES; do
	dst=$(target "$f")
	log "IPv$f, routers $SILENT_FROM..$SILENT_TO silent: $SILENT_RUNS runs of each, alternately"
	bench silent "$f" "$SILENT_RUNS" 1 \
		icmpkit "$I traceroute --mode raw -n -q 3 -z 0 -W 2 -m 30 $dst" \
		traceroute "traceroute -$f -I -n -q 3 -z 0 -w 2 -m 30 $dst"
done

echo
echo "== traceroute over $HOPS hops ($ROUTERS routers), ICMP echo, -q 3 -z 0, wait 2 s, medians"
for f in $FAMILIES; do
	line "IPv$f: every router answers ($RUNS runs)" "all-$f-icmpkit" "all-$f-traceroute" "goal: ratio <= 2"
	line "IPv$f: both at their defaults, -n ($RUNS runs)" "all-$f-icmpkit-defaults" "all-$f-traceroute-defaults" "goal: ratio <= 2"
	line "IPv$f: $((SILENT_TO - SILENT_FROM + 1)) routers silent ($SILENT_RUNS runs)" "silent-$f-icmpkit" "silent-$f-traceroute" "goal: icmpkit <= 3000 ms"
done
