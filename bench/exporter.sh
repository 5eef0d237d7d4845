#!/usr/bin/env bash
# icmpkit-exporter side by side with Debian's prometheus-smokeping-prober on the same loopback
# targets (127.1.0.0 onwards, one request a second to each), then icmpkit-exporter alone at
# BIG targets, and at every size the syscall floor: bench/cmd/echofloor sending and receiving
# the same rate with one raw socket and plain sendto/recvfrom.
#
# Per contender and size: CPU (user+sys, from /proc/PID/stat) over WINDOW seconds after
# WARMUP seconds, in cores; RSS at the end and its peak; requests and answers counted per
# target over the window, read from two scrapes of /metrics (a third in the middle: the
# scrapes are inside the CPU window), the targets with no answer counted in the window, and
# the time and size of a scrape (gzip, as Prometheus asks). Then whether each of
# smokeping_prober's families is present in icmpkit-exporter's exposition with the same type,
# and their label names.
#
#	sudo bench/exporter.sh
#	sudo SIZES="100 1000" BIG=0 WINDOW=10 bench/exporter.sh
#	sudo CONTENDERS=floor bench/exporter.sh        # any of: smokeping_prober icmpkit-exporter floor
#
# Runs in a network namespace of its own (root and ip(8) needed), with loopback alone.
set -euo pipefail

SIZES=${SIZES:-100 1000 10000}
BIG=${BIG:-100000}
WINDOW=${WINDOW:-20}
WARMUP=${WARMUP:-5}
CONTENDERS=${CONTENDERS:-smokeping_prober icmpkit-exporter floor}
STARTUP=${STARTUP:-120} # seconds a contender may take to serve /metrics
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/icmpkit-bench-exporter.XXXXXX")
NS=icmpkit-bench-exp-$$
PIDS=()
TICK=$(getconf CLK_TCK)

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '%s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
	log "bench/exporter.sh needs root and ip(8) for a network namespace of its own"
	exit 1
fi
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
in_ns() { ip netns exec "$NS" "$@"; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

(cd "$ROOT" && go build -o "$TMP/icmpkit-exporter" ./exporter/cmd/icmpkit-exporter && go build -o "$TMP/echofloor" ./bench/cmd/echofloor)
SMOKEPING=$(command -v prometheus-smokeping-prober || true)
[ -n "$SMOKEPING" ] || log "bench: prometheus-smokeping-prober not installed (apt-get install prometheus-smokeping-prober): icmpkit-exporter alone"
log "bench: machine $(nproc) cores, $(uname -r); window ${WINDOW}s after ${WARMUP}s"

# config N FILE: one target group of N addresses from 127.1.0.0, at 1 s.
config() {
	awk -v n="$1" 'BEGIN { print "targets:"; print "- interval: 1s"; print "  hosts:";
		for (i = 0; i < n; i++) printf "  - 127.%d.%d.%d\n", 1 + int(i / 65536), int(i / 256) % 256, i % 256 }' >"$2"
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# scrape OUT: the answers and requests per target into OUT; prints "seconds bytes".
scrape() {
	in_ns curl -sf --compressed -o "$TMP/scrape" -w '%{time_total} %{size_download}' http://127.0.0.1:9374/metrics
	grep -E '^smokeping_(requests_total|response_duration_seconds_count)\{' "$TMP/scrape" >"$1" || true
}

# counts A B N SECONDS: from two scrapes begun SECONDS apart, requests and answers per target and
# second, and the targets without an answer in between.
counts() {
	awk -v n="$3" -v w="$4" '
		{ match($0, /ip="[^"]*"/); ip = substr($0, RSTART + 4, RLENGTH - 5); split($1, nm, "{"); v = $NF }
		FNR == NR { a[nm[1] " " ip] = v; next }
		{ d = v - a[nm[1] " " ip]; if (nm[1] == "smokeping_requests_total") { req += d } else { ans += d; if (d == 0) silent++ } ; seen[ip] = 1 }
		END { t = 0; for (k in seen) t++;
			printf "requests/target/s=%.3f answers/target/s=%.3f answered=%.4f targets_seen=%d targets_without_answer=%d\n",
				req / n / w, ans / n / w, (req > 0 ? ans / req : 0), t, silent + (n - t) }' "$1" "$2"
}

# run NAME N CMD...: starts CMD in the namespace and measures it.
run() {
	local name=$1 n=$2
	shift 2
	ip netns exec "$NS" "$@" >"$TMP/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	local up=0 started
	started=$(date +%s)
	while [ $(($(date +%s) - started)) -lt "$STARTUP" ]; do
		if in_ns curl -sf -o /dev/null http://127.0.0.1:9374/metrics; then
			up=1
			break
		fi
		sleep 0.2
	done
	if [ $up = 0 ]; then
		printf '%-18s %7d targets: no /metrics within %d s of starting (cpu so far %.1f s); its log ends:\n' "$name" "$n" "$STARTUP" \
			"$(echo "$(ticks "$pid") / $TICK" | bc -l)"
		tail -3 "$TMP/$name.log" | sed 's/^/    /'
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		return
	fi
	log "bench: $name with $n targets serving /metrics after $(($(date +%s) - started)) s"
	sleep "$WARMUP"
	local t0 t1 s0 s1 sm w0 w1 w2
	t0=$(ticks "$pid")
	w0=$(date +%s.%N)
	s0=$(scrape "$TMP/a")
	sleep $((WINDOW / 2))
	sm=$(scrape "$TMP/m")
	sleep $((WINDOW - WINDOW / 2))
	w1=$(date +%s.%N)
	s1=$(scrape "$TMP/b")
	t1=$(ticks "$pid")
	w2=$(date +%s.%N)
	local rss hwm
	rss=$(status "$pid" VmRSS)
	hwm=$(status "$pid" VmHWM)
	cp "$TMP/scrape" "$TMP/$name-$n.metrics" 2>/dev/null || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	printf '%-18s %7d targets: cpu=%.3f cores rss=%d MB peak=%d MB %s scrape=%ss/%s bytes gzip\n' "$name" "$n" \
		"$(echo "($t1 - $t0) / $TICK / ($w2 - $w0)" | bc -l)" $((rss / 1024)) $((hwm / 1024)) \
		"$(counts "$TMP/a" "$TMP/b" "$n" "$(echo "$w1 - $w0" | bc -l)")" "${s1% *}" "${s1#* }"
}

# floor N: echofloor at N requests a second over N addresses.
floor() {
	local n=$1
	ip netns exec "$NS" "$TMP/echofloor" -n "$n" -base 127.1.0.0 -for "$((WARMUP + WINDOW + 1))s" >"$TMP/floor.out" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	sleep "$WARMUP"
	local t0 t1
	t0=$(ticks "$pid")
	sleep "$WINDOW"
	t1=$(ticks "$pid")
	wait "$pid"
	printf '%-18s %7d targets: cpu=%.3f cores (%s)\n' "syscall floor" "$n" "$(echo "($t1 - $t0) / $TICK / $WINDOW" | bc -l)" "$(cat "$TMP/floor.out")"
}

want() { case " $CONTENDERS " in *" $1 "*) return 0 ;; esac; return 1; }
for n in $SIZES; do
	config "$n" "$TMP/targets-$n.yml"
	if [ -n "$SMOKEPING" ] && want smokeping_prober; then
		run smokeping_prober "$n" "$SMOKEPING" --privileged --config.file="$TMP/targets-$n.yml" --web.listen-address=127.0.0.1:9374
	fi
	if want icmpkit-exporter; then
		run icmpkit-exporter "$n" "$TMP/icmpkit-exporter" --config.file="$TMP/targets-$n.yml" --web.listen-address=127.0.0.1:9374
	fi
	if want floor; then
		floor "$n"
	fi
done
if [ "$BIG" -gt 0 ]; then
	config "$BIG" "$TMP/targets-$BIG.yml"
	if want icmpkit-exporter; then
		run icmpkit-exporter "$BIG" "$TMP/icmpkit-exporter" --config.file="$TMP/targets-$BIG.yml" --web.listen-address=127.0.0.1:9374
	fi
	if want floor; then
		floor "$BIG"
	fi
fi

# The families: smokeping_prober's, with their types and label names, against ours.
first=$(echo "$SIZES" | awk '{ print $1 }')
if [ -n "$SMOKEPING" ] && [ -f "$TMP/smokeping_prober-$first.metrics" ]; then
	families() {
		awk '/^# TYPE (smokeping_)/ { t[$3] = $4 }
			/^smokeping_/ { split($0, p, "{"); f = p[1]; sub(/_(bucket|sum|count)$/, "", f); if (!(f in t)) f = p[1];
				if (!(f in l)) { s = $0; sub(/^[^{]*\{/, "", s); sub(/\}.*$/, "", s); n = split(s, kv, ","); names = "";
					for (i = 1; i <= n; i++) { split(kv[i], x, "="); if (x[1] != "le") names = names (names == "" ? "" : ",") x[1] } l[f] = names } }
			END { for (f in t) printf "%s %s %s\n", f, t[f], (f in l ? l[f] : "-") }' "$1" | sort
	}
	families "$TMP/smokeping_prober-$first.metrics" >"$TMP/theirs"
	families "$TMP/icmpkit-exporter-$first.metrics" >"$TMP/ours"
	echo "smokeping_prober's families (name type labels) -> icmpkit-exporter's:"
	while read -r f t l; do
		o=$(awk -v f="$f" '$1 == f { print $2 " " $3 }' "$TMP/ours")
		if [ -z "$o" ]; then
			echo "  $f $t {$l} -> MISSING"
		else
			same=same
			[ "${o% *}" = "$t" ] || same=DIFFERENT
			echo "  $f $t {$l} -> $o ($same type)"
		fi
	done <"$TMP/theirs"
fi
