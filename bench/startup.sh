#!/usr/bin/env bash
# Start-up cost of icmpkit: times `icmpkit ping -c 1 127.0.0.1` (open a socket, send one echo
# request, print the reply and the summary, exit) against a Go program that does nothing, side
# by side, and prints the ratios of their wall-clock time and of their process (CPU) time,
# user plus system. The goal is a wall-clock ratio of at most 1.5.
#
# With hyperfine, the references are timed in the same rounds: iputils ping, when installed,
# and pro-bing (github.com/prometheus-community/pro-bing, PROBING_VERSION) pinging once from a
# program built here through the Go module proxy; PROBING=0 skips it, and a build that fails
# (no proxy) is noted and skipped.
#
#   bench/startup.sh            # 200 runs of each
#   RUNS=1000 ROUNDS=10 bench/startup.sh
#
# Uses hyperfine when it is installed, else shell loops timed with date +%s%N and the shell's
# `times` (icmpkit and the empty program only). Needs the right to ping: root or CAP_NET_RAW
# (raw socket), or a group inside net.ipv4.ping_group_range.
set -euo pipefail

runs=${RUNS:-200}
root=$(cd "$(dirname "$0")/.." && pwd)

# The programs are built first, in the machine's network namespace (the pro-bing build may need
# the Go module proxy); then, as root, bench/isolate.sh runs this script again in a namespace
# of its own with only loopback, which finds them in ICMPKIT_STARTUP_BUILT and times them there.
if [ -n "${ICMPKIT_STARTUP_BUILT:-}" ]; then
	tmp=$ICMPKIT_STARTUP_BUILT
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	build_all=1
fi

# install_copy NAME puts a copy of what the Go command built where the programs run from.
install_copy() { cp "$tmp/build/$1" "$tmp/$1"; }

# probing_build builds $tmp/probing, a pro-bing ping of one echo request with a Ctrl-C
# handler, printing the reply and a summary as icmpkit does. It is timed only with hyperfine.
probing_build() {
	mkdir "$tmp/probing.d"
	cat >"$tmp/probing.d/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
	"os/signal"

	probing "github.com/prometheus-community/pro-bing"
)

func main() {
	p, err := probing.NewPinger(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	go func() {
		<-c
		p.Stop()
	}()
	p.Count = 1
	p.SetPrivileged(true)
	p.OnRecv = func(pkt *probing.Packet) {
		fmt.Printf("%d bytes from %s: icmp_seq=%d time=%v\n", pkt.Nbytes, pkt.IPAddr, pkt.Seq, pkt.Rtt)
	}
	p.OnFinish = func(s *probing.Statistics) {
		fmt.Printf("\n--- %s ping statistics ---\n%d packets transmitted, %d received, %v%% packet loss\n",
			s.Addr, s.PacketsSent, s.PacketsRecv, s.PacketLoss)
	}
	fmt.Printf("PING %s (%s)\n", p.Addr(), p.IPAddr())
	if err := p.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
EOF
	(
		cd "$tmp/probing.d" &&
			go mod init probing-startup >/dev/null 2>&1 &&
			GOFLAGS=-mod=mod go get "github.com/prometheus-community/pro-bing@${PROBING_VERSION:-v0.9.1}" >/dev/null 2>&1 &&
			CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$tmp/build/probing" . 2>&1
	) && install_copy probing
}

# A static, pure-Go build, as the empty program is: with cgo, importing net links libc
# dynamically, and the dynamic loader alone costs about half an empty program.
#
# Every program runs from a copy of what the Go command built (install_copy). A file the
# linker has just written sits in the page cache unlike one that cp wrote: the same icmpkit
# binary ran 7 to 16% slower from it than from its copy, by an amount that changed from one
# build to the next, and the empty program 10 to 12% slower. Copies put the programs on the
# same footing from one run of this script to the next.
if [ -n "${build_all:-}" ]; then
	mkdir "$tmp/build"
	(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/build/icmpkit" ./cmd/icmpkit) && install_copy icmpkit
	printf 'package main\n\nfunc main() {}\n' >"$tmp/empty.go"
	(cd "$tmp" && CGO_ENABLED=0 go build -o "$tmp/build/empty" empty.go) && install_copy empty
	if [ "${PROBING:-1}" = 1 ] && command -v hyperfine >/dev/null 2>&1; then
		probing_build >"$tmp/probing.log" 2>&1 || true
	fi
	export ICMPKIT_STARTUP_BUILT=$tmp
fi

# shellcheck source=bench/isolate.sh
source "$root/bench/isolate.sh"

ping=("$tmp/icmpkit" ping -c 1 127.0.0.1)
if ! "${ping[@]}" >/dev/null; then
	echo "startup.sh: '${ping[*]}' failed; it needs the right to ping (see above)" >&2
	exit 1
fi

if command -v hyperfine >/dev/null 2>&1; then
	names=(empty icmpkit)
	cmds=("$tmp/empty" "${ping[*]}")
	labels=("empty Go program" "icmpkit ping -c 1")
	# The unprivileged transport, when this user may open ping sockets
	# (net.ipv4.ping_group_range).
	if "$tmp/icmpkit" ping --mode dgram -c 1 127.0.0.1 >/dev/null 2>&1; then
		names+=(dgram) cmds+=("${ping[*]:0:2} --mode dgram ${ping[*]:2}") labels+=("icmpkit, --mode dgram")
	fi
	if command -v ping >/dev/null 2>&1 && ping -c 1 127.0.0.1 >/dev/null 2>&1; then
		names+=(iputils) cmds+=("$(command -v ping) -c 1 127.0.0.1") labels+=("iputils ping -c 1")
	fi
	if [ "${PROBING:-1}" = 1 ]; then
		if [ -x "$tmp/probing" ] && "$tmp/probing" 127.0.0.1 >/dev/null 2>>"$tmp/probing.log"; then
			names+=(probing) cmds+=("$tmp/probing 127.0.0.1") labels+=("pro-bing, one ping")
		else
			echo "startup.sh: pro-bing not built, skipped (PROBING=0 skips it quietly): $(tail -n 1 "$tmp/probing.log")" >&2
		fi
	fi
	# ROUNDS rounds of every command, alternating, so that drift on a noisy machine touches
	# them all alike; the report takes the median of the rounds' means.
	rounds=${ROUNDS:-5}
	per=$(((runs + rounds - 1) / rounds))
	args=()
	for i in "${!names[@]}"; do
		args+=(-n "${names[$i]}" "${cmds[$i]}")
	done
	: >"$tmp/rounds"
	for ((r = 1; r <= rounds; r++)); do
		hyperfine -N --warmup 10 --runs "$per" --export-csv "$tmp/times.csv" "${args[@]}" >/dev/null 2>&1
		# CSV columns: command,mean,stddev,median,user,system,min,max (seconds).
		awk -F, 'NR > 1 { print $1, $2, $5 + $6 }' "$tmp/times.csv" >>"$tmp/rounds"
	done
	echo "$rounds rounds of $per runs of each (hyperfine), medians of the rounds' means"
	printf '%-22s %12s %12s %8s %8s\n' "" wall process ratio "(process)"
	median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
	ew=$(awk '$1 == "empty" { print $2 }' "$tmp/rounds" | median)
	ec=$(awk '$1 == "empty" { print $3 }' "$tmp/rounds" | median)
	for i in "${!names[@]}"; do
		w=$(awk -v n="${names[$i]}" '$1 == n { print $2 }' "$tmp/rounds" | median)
		c=$(awk -v n="${names[$i]}" '$1 == n { print $3 }' "$tmp/rounds" | median)
		awk -v l="${labels[$i]}" -v w="$w" -v c="$c" -v ew="$ew" -v ec="$ec" \
			'BEGIN { printf "%-22s %9.3f ms %9.3f ms %8.2f %8.2f\n", l, w * 1000, c * 1000, w / ew, c / ec }'
	done
	echo "goal: icmpkit's wall-clock ratio at most 1.5"
	exit 0
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
