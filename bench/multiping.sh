#!/usr/bin/env bash
# Multiping of 65,534 loopback hosts (127.0.0.0/16 but network and broadcast), count 1, every
# host alive, as users run it: the icmpkit command (go build ./cmd/icmpkit) with --json and
# with text output to a file, in raw and in dgram mode, against fping -c1 -i0 -q -g in the
# same run; then the library driver (probe.Multiping) and icmplib's multiping. All run
# alternately in one network namespace, RUNS times each (default 5), the order rotated from
# run to run. Prints one line per figure (the medians, their ratio and the goal), then every
# run's figures.
#
#   bench/multiping.sh
#   RUNS=9 MODES=raw bench/multiping.sh
#
# Goals, in each mode and output form: the command's wall time at most 0.7 times fping's and
# its CPU time (user+sys) at most fping's, with every host alive in every run's output; the
# same for the library driver, whose non-streaming Multiping also keeps its peak RSS at most
# 60 MB. A reference that is not installed is skipped.
source "$(dirname "$0")/lib.sh"

CIDR=${CIDR:-127.0.0.0/16}
setup_ns
build
modes
have_fping || log "bench: fping not installed (apt-get install -y fping): no fping figures"
have_icmplib || log "bench: icmplib not importable by $PYTHON (apt-get install -y python3-icmplib): no icmplib figures"
hosts=$("$DRIVER" -g "$CIDR" -list | wc -l | tr -d ' ')

# contender LABEL runs one of them once.
contender() {
	local l=$1 m form
	case $l in
	fping) measure_out fping fping fping -c1 -i0 -q -g "$CIDR" ;;
	cli-*)
		m=${l#cli-} form=${m#*-} m=${m%-*}
		if [ "$form" = json ]; then
			measure_out "$l" json "$CLI" multiping --mode "$m" --json -c 1 -W 2 -g "$CIDR"
		else
			measure_out "$l" text "$CLI" multiping --mode "$m" -q -c 1 -W 2 -g "$CIDR"
		fi
		;;
	lib-*) measure "$l" in_ns "$DRIVER" -mode "${l#lib-}" -g "$CIDR" -c 1 ;;
	icmplib-*) measure "$l" in_ns "$DRIVER" exec -- "$PYTHON" "$BENCH_DIR/icmplib_multiping.py" "$CIDR" "${l#icmplib-}" 1 ;;
	esac
}

labels=()
have_fping && labels+=(fping)
for m in "${MODES_OK[@]}"; do
	labels+=("cli-$m-json" "cli-$m-text")
done
for m in "${MODES_OK[@]}"; do
	labels+=("lib-$m")
done
if [ "${BENCH_ICMPLIB:-1}" = 1 ] && have_icmplib; then
	for m in "${MODES_OK[@]}"; do
		labels+=("icmplib-$m")
	done
fi

for ((i = 1; i <= RUNS; i++)); do
	log "run $i of $RUNS"
	n=${#labels[@]}
	for ((j = 0; j < n; j++)); do
		contender "${labels[$(((i - 1 + j) % n))]}"
	done
done

# every_run LABEL: how many runs had every host alive.
every_run() {
	local ok=0 n=0 a
	if [ -s "$TMP/$1.alive" ]; then
		while read -r a; do
			n=$((n + 1))
			[ "$a" = "$hosts" ] && ok=$((ok + 1))
		done <"$TMP/$1.alive"
	fi
	echo "$ok $n"
}

# all_alive FIGURE LABEL: a line checking that every run had every host alive.
all_alive() {
	local r
	read -r -a r <<<"$(every_run "$2")"
	absolute "$1" "${r[0]}" "runs" "==" "$RUNS" "of" "${r[1]}"
}

echo
echo "== multiping of $CIDR ($hosts hosts), count 1, the command (icmpkit multiping -c 1 -W 2): medians of $RUNS alternating runs"
fw=$(med fping wall)
fc=$(med fping cpu)
for m in "${MODES_OK[@]}"; do
	for form in json text; do
		l=cli-$m-$form
		f="--json to a file"
		[ "$form" = text ] && f="-q, text to a file"
		ratio "$m $f: wall time" "$(med "$l" wall)" s fping "$fw" "<=" 0.7
		ratio "$m $f: CPU time (user+sys)" "$(med "$l" cpu)" s fping "$fc" "<=" 1.0
		all_alive "$m $f: runs with all $hosts alive" "$l"
		info "$m $f: peak RSS" "$(med "$l" rss_mb) MB (fping $(med fping rss_mb) MB)"
	done
done
if have_fping; then
	all_alive "fping: runs with all $hosts alive" fping
fi

echo
echo "== the same, the library driver (probe.Multiping, bench/cmd/multiping-bench)"
for m in "${MODES_OK[@]}"; do
	l=lib-$m
	ratio "$m: wall time" "$(med "$l" wall)" s fping "$fw" "<=" 0.7
	ratio "$m: CPU time (user+sys)" "$(med "$l" cpu)" s fping "$fc" "<=" 1.0
	absolute "$m: peak RSS, non-streaming Multiping" "$(med "$l" rss_mb)" MB "<=" 60 fping "$(med fping rss_mb)"
	all_alive "$m: runs with all $hosts alive" "$l"
	absolute "$m: replies lost (every run)" "$(sum "$l" lost)" "" "==" 0
	if [ -s "$TMP/icmplib-$m.wall" ]; then
		versus "$m: wall time against icmplib" "$(med "$l" wall)" s icmplib "$(med "icmplib-$m" wall)"
		info "$m: icmplib runs with every host alive" "$(grep -c '^0$' "$TMP/icmplib-$m.exit" || true) of $(count "icmplib-$m" exit)"
	fi
done

echo
echo "== every run, in the order run (wall s / CPU s / hosts alive)"
for l in "${labels[@]}"; do
	[ -s "$TMP/$l.wall" ] || continue
	paste -d/ "$TMP/$l.wall" "$TMP/$l.cpu" <(if [ -s "$TMP/$l.alive" ]; then cat "$TMP/$l.alive"; else yes - | head -n "$(count "$l" wall)"; fi) |
		tr '\n' ' ' | awk -v l="$l" '{ printf "%-18s %s\n", l, $0 }'
done
