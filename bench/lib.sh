# shellcheck shell=bash
# Shared part of the multiping bench scripts: a network namespace of their own, the driver
# (bench/cmd/multiping-bench), the references, medians and figure lines. Sourced, not run.

set -euo pipefail
# shellcheck source=bench/isolate.sh
source "$(dirname "${BASH_SOURCE[0]}")/isolate.sh"

RUNS=${RUNS:-5}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/icmpkit-bench.XXXXXX")
PYTHON=${PYTHON:-/usr/bin/python3} # Debian's python3-icmplib lives there, not in pyenv's
NS=""
IN_NS=() # prefix that runs a command inside the namespace (empty: the host's loopback)

cleanup() {
	if [ -n "$NS" ]; then
		ip netns del "$NS" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# setup_ns creates a network namespace with loopback up and ping sockets open to every group
# (net.ipv4.ping_group_range), so that icmpkit's dgram mode works and every tool sees the same
# loopback. Without root or ip(8) the scripts use the host's loopback as it is.
setup_ns() {
	local name="icmpkit-bench-$$"
	if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && ip netns add "$name" 2>/dev/null; then
		NS=$name
		ip -n "$NS" link set lo up
		ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
		IN_NS=(ip netns exec "$NS")
		log "bench: running in network namespace $NS"
	else
		log "bench: no network namespace (it needs root and ip(8)); using the host's loopback"
	fi
}

# in_ns CMD...: runs CMD in the namespace, or here without one.
in_ns() {
	if [ ${#IN_NS[@]} -gt 0 ]; then
		"${IN_NS[@]}" "$@"
	else
		"$@"
	fi
}

# build builds the driver and the command (go build ./cmd/icmpkit, as a user builds it).
build() {
	(cd "$ROOT" && go build -o "$TMP/multiping-bench" ./bench/cmd/multiping-bench)
	DRIVER=$TMP/multiping-bench
	(cd "$ROOT" && go build -o "$TMP/icmpkit" ./cmd/icmpkit)
	CLI=$TMP/icmpkit
}

# modes sets MODES to the icmpkit transports that open here (raw needs CAP_NET_RAW, dgram a
# group inside net.ipv4.ping_group_range), or to those asked for in $MODES.
modes() {
	local m want=${MODES:-raw dgram}
	MODES_OK=()
	for m in $want; do
		if in_ns "$DRIVER" -mode "$m" -g 127.0.0.1/32 -W 1 >/dev/null 2>"$TMP/err"; then
			MODES_OK+=("$m")
		else
			log "bench: skipping icmpkit $m mode: $(tail -1 "$TMP/err")"
		fi
	done
}

# have_fping and have_icmplib tell whether a reference is installed.
have_fping() { command -v fping >/dev/null 2>&1; }
have_icmplib() { [ -x "$PYTHON" ] && "$PYTHON" -c 'import icmplib' >/dev/null 2>&1; }

# measure LABEL CMD...: runs CMD, which prints one line of key=value figures, and files each
# figure under LABEL. A command that fails is reported and skipped.
measure() {
	local label=$1 out kv
	shift
	if ! out=$("$@" 2>"$TMP/err" | tail -n 1) || [ -z "$out" ]; then
		log "  $label: failed: $(tail -n 1 "$TMP/err")"
		return 0
	fi
	log "  $label: $out"
	for kv in $out; do
		printf '%s\n' "${kv#*=}" >>"$TMP/$label.${kv%%=*}"
	done
}

# measure_out LABEL FORM CMD...: as measure, for a command run by the driver's exec with its
# standard output (FORM json or text) or standard error (FORM fping: fping -q's summary lines)
# in $TMP/out; files the lines written (lines) and the hosts alive in them (alive) as well.
measure_out() {
	local label=$1 form=$2 out kv
	shift 2
	rm -f "$TMP/out"
	local redirect=(-o "$TMP/out")
	[ "$form" = fping ] && redirect=(-e "$TMP/out")
	if ! out=$(in_ns "$DRIVER" exec "${redirect[@]}" -- "$@" 2>"$TMP/err" | tail -n 1) || [ -z "$out" ]; then
		log "  $label: failed: $(tail -n 1 "$TMP/err")"
		return 0
	fi
	out="$out lines=$(wc -l <"$TMP/out" | tr -d ' ') alive=$(alive_lines "$form" "$TMP/out")"
	log "  $label: $out"
	for kv in $out; do
		printf '%s\n' "${kv#*=}" >>"$TMP/$label.${kv%%=*}"
	done
}

# alive_lines FORM FILE counts the hosts FILE shows alive: JSON Lines with "is_alive":true,
# or fping -q lines with at least one reply received.
alive_lines() {
	case $1 in
	json) grep -c '"is_alive":true' "$2" || true ;;
	*) grep -Ec '^[^ ]+ +: xmt/rcv/%loss = [0-9]+/[1-9][0-9]*/' "$2" || true ;;
	esac
}

# med LABEL KEY prints the median of the figures filed, or - when there are none.
med() {
	local f="$TMP/$1.$2"
	if [ ! -s "$f" ]; then
		echo -
		return
	fi
	sort -g "$f" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# sum LABEL KEY prints the sum of the figures filed, or - when there are none.
sum() {
	local f="$TMP/$1.$2"
	if [ ! -s "$f" ]; then
		echo -
		return
	fi
	awk '{ s += $1 } END { printf "%.10g\n", s }' "$f"
}

# count LABEL KEY prints how many figures were filed.
count() {
	local f="$TMP/$1.$2"
	if [ -s "$f" ]; then wc -l <"$f" | tr -d ' '; else echo 0; fi
}

# ratio FIGURE VALUE UNIT REFNAME REFVALUE OP GOAL: one line comparing VALUE with a
# reference's, and their ratio with the goal (OP is <= or >=).
ratio() {
	awk -v fig="$1" -v v="$2" -v unit="$3" -v rn="$4" -v r="$5" -v op="$6" -v goal="$7" 'BEGIN {
		if (v == "-" || r == "-" || r + 0 == 0) {
			printf "%-44s icmpkit %10s %-5s %-9s %10s %-5s   ratio   n/a   goal %s %s   n/a\n", fig, v, unit, rn, r, unit, op, goal
			exit
		}
		q = v / r
		ok = (op == "<=") ? (q <= goal) : (q >= goal)
		printf "%-44s icmpkit %10s %-5s %-9s %10s %-5s   ratio %5.2f   goal %s %s   %s\n", fig, v, unit, rn, r, unit, q, op, goal, ok ? "met" : "NOT MET"
	}'
}

# absolute FIGURE VALUE UNIT OP GOAL [REFNAME REFVALUE]: one line comparing VALUE with an
# absolute goal, with a reference's figure beside it when there is one.
absolute() {
	awk -v fig="$1" -v v="$2" -v unit="$3" -v op="$4" -v goal="$5" -v rn="${6:-}" -v r="${7:-}" 'BEGIN {
		ref = (rn == "") ? "" : sprintf("(%s %s %s)", rn, r, unit)
		if (v == "-") {
			printf "%-44s icmpkit %10s %-5s %-24s goal %s %s   n/a\n", fig, v, unit, ref, op, goal
			exit
		}
		ok = (op == "<=") ? (v + 0 <= goal + 0) : (op == ">=") ? (v + 0 >= goal + 0) : (v + 0 == goal + 0)
		printf "%-44s icmpkit %10s %-5s %-24s goal %s %s   %s\n", fig, v, unit, ref, op, goal, ok ? "met" : "NOT MET"
	}'
}

# info FIGURE TEXT: a line of context with no goal.
info() { printf '%-44s %s\n' "$1" "$2"; }

# versus FIGURE VALUE UNIT REFNAME REFVALUE: one line comparing VALUE with a reference's,
# for context, with no goal.
versus() {
	awk -v fig="$1" -v v="$2" -v unit="$3" -v rn="$4" -v r="$5" 'BEGIN {
		q = (v == "-" || r == "-" || r + 0 == 0) ? "  n/a" : sprintf("%5.2f", v / r)
		printf "%-44s icmpkit %10s %-5s %-9s %10s %-5s   ratio %s\n", fig, v, unit, rn, r, unit, q
	}'
}
