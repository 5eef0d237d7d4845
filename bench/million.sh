#!/usr/bin/env bash
# Multiping of 1,048,574 loopback hosts (127.0.0.0/12 but network and broadcast), count 1,
# through the icmpkit command (icmpkit multiping -c 1 -W 2 -g, --json and -q text to a file),
# against the command's runs of 65,534 hosts (127.0.0.0/16) made alternately in the same
# namespace; then the same through the library driver (MultipingSeq writing every host to a
# file as it completes) against its 65,534-host runs. RUNS times each (default 5). The command
# also runs shard 0 of 4 of the same targets in the random order of seed 1 (--shards 4 --shard 0
# --seed 1), alternately with the others.
#
#   bench/million.sh
#   RUNS=3 MODES=dgram FORMS=json bench/million.sh
#   DRIVER_RUNS=0 bench/million.sh   # the command's runs only
#
# Goals: every host alive in every run, peak RSS at most 150 MB, and hosts per second at least
# 90% of the 65,534-host run's; the shard: a quarter of the hosts, every one alive, peak RSS
# within 10% of the whole run's. fping, which refuses more than 65,535 targets, is tried once
# for the record.
source "$(dirname "$0")/lib.sh"

BIG=${BIG:-127.0.0.0/12}
SMALL=${SMALL:-127.0.0.0/16}
FORMS=${FORMS:-json text}
DRIVER_RUNS=${DRIVER_RUNS:-1}
SHARD=(--shards 4 --shard 0 --seed 1)
setup_ns
build
modes
big_hosts=$("$DRIVER" -g "$BIG" -list | wc -l | tr -d ' ')
small_hosts=$("$DRIVER" -g "$SMALL" -list | wc -l | tr -d ' ')
shard_hosts=$("$CLI" multiping --dry-run "${SHARD[@]}" -g "$BIG" | wc -l | tr -d ' ')

# cli LABEL MODE FORM CIDR [OPTION...]: one run of the command, with hosts per second filed as
# well.
cli() {
	local l=$1 m=$2 form=$3 cidr=$4 flag=--json wall
	shift 4
	[ "$form" = text ] && flag=-q
	measure_out "$l" "$form" "$CLI" multiping --mode "$m" "$flag" -c 1 -W 2 "$@" -g "$cidr"
	wall=$(tail -n 1 "$TMP/$l.wall" 2>/dev/null || echo 0)
	awk -v n="$(tail -n 1 "$TMP/$l.lines" 2>/dev/null || echo 0)" -v w="$wall" 'BEGIN { printf "%.0f\n", (w > 0 ? n / w : 0) }' >>"$TMP/$l.hosts_per_s"
	rm -f "$TMP/out"
}

for ((i = 1; i <= RUNS; i++)); do
	log "run $i of $RUNS"
	for m in "${MODES_OK[@]}"; do
		for form in $FORMS; do
			cli "cli-small-$m-$form" "$m" "$form" "$SMALL"
			cli "cli-big-$m-$form" "$m" "$form" "$BIG"
			cli "cli-shard-$m-$form" "$m" "$form" "$BIG" "${SHARD[@]}"
		done
		[ "$DRIVER_RUNS" = 0 ] && continue
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

# runs_all LABEL N: how many runs had N hosts alive.
runs_all() {
	if [ -s "$TMP/$1.alive" ]; then grep -cx "$2" "$TMP/$1.alive" || true; else echo 0; fi
}

echo
echo "== multiping of $BIG ($big_hosts hosts), count 1, the command (icmpkit multiping -c 1 -W 2, output to a file): medians of $RUNS alternating runs"
for m in "${MODES_OK[@]}"; do
	for form in $FORMS; do
		l=cli-big-$m-$form s=cli-small-$m-$form f="--json"
		[ "$form" = text ] && f="-q"
		absolute "$m $f: runs with all $big_hosts alive" "$(runs_all "$l" "$big_hosts")" runs "==" "$RUNS" of "$(count "$l" wall)"
		absolute "$m $f: peak RSS" "$(med "$l" rss_mb)" MB "<=" 150
		info "$m $f: wall time" "$(med "$l" wall) s (CPU $(med "$l" cpu) s)"
		ratio "$m $f: hosts/s against 65,534 hosts" "$(med "$l" hosts_per_s)" "/s" "65k" "$(med "$s" hosts_per_s)" ">=" 0.9
		absolute "$m $f: 65,534-host runs with all alive" "$(runs_all "$s" "$small_hosts")" runs "==" "$RUNS" of "$(count "$s" wall)"
		sh=cli-shard-$m-$form
		info "$m $f ${SHARD[*]}: hosts" "$shard_hosts of $big_hosts ($(awk -v s="$shard_hosts" -v b="$big_hosts" 'BEGIN { printf "%.4f", s / b }'))"
		absolute "$m $f ${SHARD[*]}: runs with all alive" "$(runs_all "$sh" "$shard_hosts")" runs "==" "$RUNS" of "$(count "$sh" wall)"
		ratio "$m $f ${SHARD[*]}: peak RSS" "$(med "$sh" rss_mb)" MB "whole" "$(med "$l" rss_mb)" "<=" 1.1
		info "$m $f ${SHARD[*]}: wall time" "$(med "$sh" wall) s (CPU $(med "$sh" cpu) s)"
	done
done

if [ "$DRIVER_RUNS" != 0 ]; then
echo
echo "== the same, the library driver (MultipingSeq streamed to a file, bench/cmd/multiping-bench)"
fi
for m in "${MODES_OK[@]}"; do
	[ "$DRIVER_RUNS" = 0 ] && break
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

echo
echo "== every run, in the order run (wall s / CPU s / peak RSS MB / hosts/s)"
for m in "${MODES_OK[@]}"; do
	for l in $(for form in $FORMS; do echo "cli-small-$m-$form cli-big-$m-$form cli-shard-$m-$form"; done) "small-$m" "smallfile-$m" "big-$m"; do
		[ -s "$TMP/$l.wall" ] || continue
		paste -d/ "$TMP/$l.wall" "$TMP/$l.cpu" "$TMP/$l.rss_mb" "$TMP/$l.hosts_per_s" | tr '\n' ' ' |
			awk -v l="$l" '{ printf "%-22s %s\n", l, $0 }'
	done
done
