#!/usr/bin/env bash
# Path monitoring: `icmpkit mtr` beside mtr 0.95 on a chain of network namespaces that this
# script builds: a client, 5 routers and a target (6 hops), in three situations:
#
#   both    every node at Linux's default ICMP rate limits (net.ipv4.icmp_ratelimit=1000,
#           net.ipv6.icmp.ratelimit=1000, icmp_msgs_per_sec=1000, icmp_msgs_burst=50), and
#           router 3 dropping LOSS% (default 20) of the echo requests it forwards;
#   limits  the rate limits alone;
#   loss    the loss alone, the rate limits lifted.
#
# For each, IPv4 and IPv6: `mtr -r -n -c CYCLES -i INTERVAL` and `icmpkit mtr -r -n -c CYCLES
# -i INTERVAL` (defaults 100 and 0.2), one after the other, REFILL seconds apart (default 7, so
# that the routers' buckets are full again), and each hop's Loss% printed beside the true loss
# of the path to it. icmpkit's figures are checked against the tolerances: within 3 points of 0
# up to router 3, within 8 points of LOSS beyond it; mtr's are shown as they are.
#
# Then CPU: one 30-hop path (29 routers, no rate limits) at -i 0.1 for CPU_CYCLES cycles
# (default 20), mtr and icmpkit, the CPU time (user+system, children included) of each divided
# by the probes (cycles x 30 hops), and by the packets the client sent (icmpkit's pings of the
# routers' addresses included).
#
#   bench/mtr.sh
#   CYCLES=30 FAMILIES=4 SITUATIONS="both" INTERVAL=1 MODE=dgram CPU=0 bench/mtr.sh
#
# The script runs in a network namespace of its own (bench/isolate.sh), and the tools in the
# chain's client namespace (ip netns exec), whose default route leads into the chain: no
# packet can leave through the machine's default route. Needs root, ip(8), nft(8), unshare(1),
# mtr and Go. Namespaces are named ikm<pid>-<node> and deleted on exit; addresses come
# from 198.18.0.0/15 and 2001:db8::/32 alone.
set -euo pipefail
# shellcheck source=bench/isolate.sh
source "$(dirname "${BASH_SOURCE[0]}")/isolate.sh"

CYCLES=${CYCLES:-100}
INTERVAL=${INTERVAL:-0.2}
LOSS=${LOSS:-20}
LOSS_AT=3
REFILL=${REFILL:-7}
FAMILIES=${FAMILIES:-4 6}
SITUATIONS=${SITUATIONS:-both limits loss}
CPU_CYCLES=${CPU_CYCLES:-20}
CPU=${CPU:-1} # 0 skips the CPU figures
MODE=${MODE:-raw}

die() {
	printf 'mtr.sh: %s\n' "$*" >&2
	exit 1
}
log() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (it builds network namespaces)"
for c in ip nft mtr go; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c on PATH"
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/icmpkit-mtr.XXXXXX")
chmod 755 "$TMP"
P=ikm$$
ROUTERS=5
HOPS=$((ROUTERS + 1))

# shellcheck source=bench/chain.sh
. "$ROOT/bench/chain.sh"

log "mtr.sh: building icmpkit"
(cd "$ROOT" && go build -o "$TMP/icmpkit" ./cmd/icmpkit)

LIMITS=(net.ipv4.icmp_ratelimit=1000 net.ipv6.icmp.ratelimit=1000 net.ipv4.icmp_msgs_per_sec=1000 net.ipv4.icmp_msgs_burst=50)
LIFTED=(net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=100000)

# set_limits on|off: the ICMP rate limits of every node.
set_limits() {
	local k s=("${LIFTED[@]}")
	[ "$1" = on ] && s=("${LIMITS[@]}")
	for ((k = 0; k <= HOPS; k++)); do
		ip netns exec "$(node "$k")" sysctl -qw "${s[@]}"
	done
}

# set_loss PCT: router LOSS_AT drops PCT% of the echo requests it forwards (0: none).
set_loss() {
	local ns
	ns=$(node "$LOSS_AT")
	ip netns exec "$ns" nft delete table inet ikmloss 2>/dev/null || true
	[ "$1" -gt 0 ] || return 0
	ip netns exec "$ns" nft -f - <<-EOF
		table inet ikmloss {
			chain forward {
				type filter hook forward priority 0; policy accept;
				icmp type echo-request numgen random mod 100 < $1 drop
				icmpv6 type echo-request numgen random mod 100 < $1 drop
			}
		}
	EOF
}

# losses FILE: the Loss% of each hop 1..HOPS of an mtr-style report ("-" for a missing hop).
losses() {
	awk -v hops="$HOPS" '$1 ~ /^[0-9]+\.\|--$/ { d = $1; sub(/\..*/, "", d); l = $3; sub(/%$/, "", l); got[d] = l + 0 }
	END { for (d = 1; d <= hops; d++) if (d in got) printf "%6.1f", got[d]; else printf "%6s", "-" }' "$1"
}

# check TRUE_LOSS FILE: "ok" when every hop of an icmpkit report is within the tolerances.
check() {
	awk -v hops="$HOPS" -v at="$LOSS_AT" -v p="$1" '$1 ~ /^[0-9]+\.\|--$/ { d = $1; sub(/\..*/, "", d); l = $3; sub(/%$/, "", l); got[d] = l + 0 }
	END {
		bad = ""
		for (d = 1; d <= hops; d++) {
			want = (d > at) ? p : 0; tol = (d > at) ? 8 : 3
			if (!(d in got) || got[d] < want - tol || got[d] > want + tol) bad = bad " hop" d
		}
		print (bad == "") ? "ok" : "OUT:" bad
	}' "$2"
}

# run_tool LABEL F CMD: CMD in the client's namespace; prints its hops' Loss% and time.
run_tool() {
	local label=$1 f=$2 cmd=$3 out start end
	out=$TMP/$label.$f
	start=${EPOCHREALTIME/./}
	ip netns exec "$(node 0)" bash -c "$cmd" >"$out" 2>"$out.err" || true
	end=${EPOCHREALTIME/./}
	printf '  %-8s IPv%s %s %6.1f s' "$label" "$f" "$(losses "$out")" "$(((end - start) / 1000))e-3"
	if [ "$label" = icmpkit ]; then printf '  %s' "$(check "$TRUEP" "$out")"; fi
	printf '\n'
	if [ -s "$out.err" ]; then sed 's/^/      stderr: /' "$out.err"; fi
}

log "mtr.sh: building the chain ($HOPS hops)"
build_chain "${LIMITS[@]}"
ip netns exec "$(node 0)" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

echo "mtr.sh: $HOPS hops, Loss% per hop; $CYCLES cycles at -i $INTERVAL; loss at router $LOSS_AT's forwarding; icmpkit --mode $MODE; machine shared, figures noisy"
for sit in $SITUATIONS; do
	case $sit in
	both) set_limits on; set_loss "$LOSS"; TRUEP=$LOSS ;;
	limits) set_limits on; set_loss 0; TRUEP=0 ;;
	loss) set_limits off; set_loss "$LOSS"; TRUEP=$LOSS ;;
	*) die "unknown situation $sit" ;;
	esac
	echo "situation $sit:"
	for f in $FAMILIES; do
		dst=$(target "$f")
		truth=""
		for ((d = 1; d <= HOPS; d++)); do
			if [ "$d" -gt "$LOSS_AT" ]; then truth+=$(printf '%6s' "$TRUEP.0"); else truth+=$(printf '%6s' 0.0); fi
		done
		printf '  %-8s IPv%s %s\n' "true" "$f" "$truth"
		sleep "$REFILL"
		run_tool mtr "$f" "mtr -$f -r -n -c $CYCLES -i $INTERVAL $dst"
		sleep "$REFILL"
		run_tool icmpkit "$f" "$TMP/icmpkit mtr --mode $MODE -$f -r -n -c $CYCLES -i $INTERVAL $dst"
	done
done

[ "$CPU" = 1 ] || exit 0

# The CPU figures, on a chain of 30 hops without rate limits or loss.
for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
	ip netns del "$n"
done
ROUTERS=29
HOPS=30
# tx_packets: the packets the client has sent, every interface but loopback.
tx_packets() {
	ip netns exec "$(node 0)" sh -c 'n=0; for d in /sys/class/net/*; do [ "${d##*/}" = lo ] || n=$((n + $(cat "$d/statistics/tx_packets"))); done; echo $n'
}
log "mtr.sh: building the chain ($HOPS hops)"
build_chain "${LIFTED[@]}"
echo "CPU: $HOPS hops, -c $CPU_CYCLES -i 0.1, CPU time (user+system, children included) per probe ($CPU_CYCLES x $HOPS probes)"
for f in $FAMILIES; do
	dst=$(target "$f")
	for tool in mtr icmpkit; do
		cmd="mtr -$f -r -n -c $CPU_CYCLES -i 0.1 $dst"
		[ "$tool" = icmpkit ] && cmd="$TMP/icmpkit mtr --mode $MODE -$f -r -n -c $CPU_CYCLES -i 0.1 $dst"
		out=$TMP/cpu.$tool.$f
		tx0=$(tx_packets)
		ip netns exec "$(node 0)" /usr/bin/time -f '%U %S %e' -o "$out.time" bash -c "$cmd" >"$out" 2>&1 || true
		tx=$(($(tx_packets) - tx0))
		read -r user sys wall <"$out.time"
		hops=$(grep -c '|--' "$out" || true)
		awk -v t="$tool" -v f="$f" -v u="$user" -v s="$sys" -v w="$wall" -v c="$CPU_CYCLES" -v h="$HOPS" -v seen="$hops" -v tx="$tx" \
			'BEGIN { printf "  %-8s IPv%s  cpu %.3f s (user %.2f, sys %.2f), %.0f us a probe, wall %.1f s, %d hops shown; %d packets sent, %.0f us a packet\n", t, f, u + s, u, s, 1e6 * (u + s) / (c * h), w, seen, tx, 1e6 * (u + s) / (tx > 0 ? tx : 1) }'
	done
done
