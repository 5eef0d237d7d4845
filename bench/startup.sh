#!/usr/bin/env bash
# Start-up cost of icmpkit: times `icmpkit ping -c 1 127.0.0.1` (open a socket, send one echo
# request, print the reply and the summary, exit) against a Go program that does nothing, side
# by side, and prints the ratios of their wall-clock time and of their process (CPU) time,
# user plus system. The goal is a wall-clock ratio of at most 1.5.
#
#   bench/startup.sh            # 200 runs of each
#   RUNS=1000 ROUNDS=10 bench/startup.sh
#
# Uses hyperfine when it is installed, else shell loops timed with date +%s%N and the shell's
# `times`. Needs the right to ping: root or CAP_NET_RAW (raw socket), or a group inside
# net.ipv4.ping_group_range.
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

# report EMPTY_WALL EMPTY_CPU ICMPKIT_WALL ICMPKIT_CPU: per-run times in seconds.
report() {
	awk -v ew="$1" -v ec="$2" -v iw="$3" -v ic="$4" 'BEGIN {
		printf "                    %12s %12s\n", "wall", "process"
		printf "empty Go program    %9.3f ms %9.3f ms\n", ew * 1000, ec * 1000
		printf "icmpkit ping -c 1   %9.3f ms %9.3f ms\n", iw * 1000, ic * 1000
		printf "ratio               %12.2f %12.2f   (goal: wall-clock time at most 1.5)\n", iw / ew, ic / ec
	}'
}

if command -v hyperfine >/dev/null 2>&1; then
	# ROUNDS rounds of both commands, alternating, so that drift on a noisy machine touches
	# both alike; the report takes the median of the rounds' means.
	rounds=${ROUNDS:-5}
	per=$(((runs + rounds - 1) / rounds))
	: >"$tmp/rounds"
	for ((r = 1; r <= rounds; r++)); do
		hyperfine -N --warmup 10 --runs "$per" --export-csv "$tmp/times.csv" \
			-n empty "$tmp/empty" -n icmpkit "${ping[*]}" >/dev/null 2>&1
		# CSV columns: command,mean,stddev,median,user,system,min,max (seconds).
		awk -F, 'NR==2{ew=$2; ec=$5+$6} NR==3{iw=$2; ic=$5+$6} END{print ew, ec, iw, ic}' "$tmp/times.csv" >>"$tmp/rounds"
	done
	echo "$rounds rounds of $per runs of each (hyperfine), medians of the rounds' means"
	median() { sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
	report "$(cut -d' ' -f1 "$tmp/rounds" | median)" "$(cut -d' ' -f2 "$tmp/rounds" | median)" \
		"$(cut -d' ' -f3 "$tmp/rounds" | median)" "$(cut -d' ' -f4 "$tmp/rounds" | median)"
	exit 0
fi

# seconds TEXT: the seconds of a `times` field such as 0m0.123s.
seconds() { awk -v t="$1" 'BEGIN { split(t, a, /[ms]/); print a[1] * 60 + a[2] }'; }

# measure CMD...: "WALL CPU" of $runs runs of CMD, in seconds, in a subshell of its own so
# that `times` counts only these runs.
measure() (
	for ((i = 0; i < 10; i++)); do "$@" >/dev/null; done # warm the page cache
	start=$(date +%s%N)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null; done
	end=$(date +%s%N)
	times >"$tmp/times" # a builtin: it runs in this shell, which waited for the runs
	read -r user sys < <(tail -n 1 "$tmp/times")
	echo "$(awk -v n=$((end - start)) 'BEGIN{print n / 1e9}') $(awk -v u="$(seconds "$user")" -v s="$(seconds "$sys")" 'BEGIN{print u + s}')"
)

# Interleave the measurements to even out drift on a noisy machine.
ew=0 ec=0 iw=0 ic=0
for round in 1 2; do
	read -r w c < <(measure "$tmp/empty")
	ew=$(awk -v a="$ew" -v b="$w" 'BEGIN{print a + b}') ec=$(awk -v a="$ec" -v b="$c" 'BEGIN{print a + b}')
	read -r w c < <(measure "${ping[@]}")
	iw=$(awk -v a="$iw" -v b="$w" 'BEGIN{print a + b}') ic=$(awk -v a="$ic" -v b="$c" 'BEGIN{print a + b}')
done
n=$((2 * (runs + 10)))
echo "$((2 * runs)) timed runs of each (process time includes 20 warm-up runs)"
report $(awk -v n=$((2 * runs)) -v m=$n -v ew="$ew" -v ec="$ec" -v iw="$iw" -v ic="$ic" 'BEGIN{print ew / n, ec / m, iw / n, ic / m}')
