#!/usr/bin/env bash
# Start-up cost of icmpkit: times `icmpkit ping -c 1 127.0.0.1` (open a socket, send one echo
# request, print the reply and the summary, exit) against a Go program that does nothing, and
# prints the ratio. The goal is a ratio of at most 1.5.
#
#   bench/startup.sh            # 200 runs of each
#   RUNS=1000 bench/startup.sh
#
# Uses hyperfine when it is installed, else a shell loop timed with date +%s%N. Needs the right
# to ping: root or CAP_NET_RAW (raw socket), or a group inside net.ipv4.ping_group_range.
set -euo pipefail

runs=${RUNS:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A static, pure-Go build, as the empty program is: with cgo, importing net links libc
# dynamically, and the dynamic loader alone costs about half an empty program.
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/icmpkit" ./cmd/icmpkit)
printf 'package main\n\nfunc main() {}\n' >"$tmp/empty.go"
(cd "$tmp" && go build -o "$tmp/empty" empty.go)

ping=("$tmp/icmpkit" ping -c 1 127.0.0.1)
if ! "${ping[@]}" >/dev/null; then
	echo "startup.sh: '${ping[*]}' failed; it needs the right to ping (see above)" >&2
	exit 1
fi

if command -v hyperfine >/dev/null 2>&1; then
	hyperfine -N --warmup 20 --runs "$runs" --export-csv "$tmp/times.csv" \
		-n empty "$tmp/empty" -n icmpkit "${ping[*]}" >&2
	# CSV columns: command,mean,stddev,median,user,system,min,max (seconds).
	read -r empty_s icmpkit_s < <(awk -F, 'NR==2{e=$2} NR==3{i=$2} END{print e, i}' "$tmp/times.csv")
	ratio=$(awk -v e="$empty_s" -v i="$icmpkit_s" 'BEGIN{printf "%.2f", i/e}')
	printf 'empty Go program    %8.3f ms\n' "$(awk -v s="$empty_s" 'BEGIN{print s*1000}')"
	printf 'icmpkit ping -c 1   %8.3f ms\n' "$(awk -v s="$icmpkit_s" 'BEGIN{print s*1000}')"
	printf 'ratio               %8s (goal: at most 1.5)\n' "$ratio"
	exit 0
fi

# total_ns CMD...: wall time of $runs runs of CMD, in nanoseconds.
total_ns() {
	local start end
	for ((i = 0; i < 10; i++)); do "$@" >/dev/null; done # warm up the page cache
	start=$(date +%s%N)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null; done
	end=$(date +%s%N)
	echo $((end - start))
}

# Interleave the two measurements to even out drift on a noisy machine.
empty_ns=0 icmpkit_ns=0
for round in 1 2; do
	empty_ns=$((empty_ns + $(total_ns "$tmp/empty")))
	icmpkit_ns=$((icmpkit_ns + $(total_ns "${ping[@]}")))
done
n=$((2 * runs))
awk -v e="$empty_ns" -v i="$icmpkit_ns" -v n="$n" 'BEGIN {
	printf "empty Go program    %8.3f ms per run (%d runs)\n", e / n / 1e6, n
	printf "icmpkit ping -c 1   %8.3f ms per run (%d runs)\n", i / n / 1e6, n
	printf "ratio               %8.2f (goal: at most 1.5)\n", i / e
}'
