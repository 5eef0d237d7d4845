# Shared by traceroute.sh and ratelimit.sh: a chain of network namespaces, a client, ROUTERS
# routers and a target, HOPS=ROUTERS+1 hops apart. The caller sets P (the namespaces' prefix),
# TMP (its scratch directory), ROUTERS and HOPS before sourcing this file.

cleanup() {
	local n
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# node K: the namespace of node K (0 the client, 1..ROUTERS the routers, ROUTERS+1 the target).
node() {
	case $1 in
	0) echo "$P-c" ;;
	"$HOPS") echo "$P-t" ;;
	*) echo "$P-r$1" ;;
	esac
}

# Link i joins nodes i and i+1: 198.18.i.0/24 and 2001:db8:0:i::/64, .1 / ::1 at node i.
v4() { echo "198.18.$1.$2"; }
v6() {
	if [ "$1" = 0 ]; then echo "2001:db8::$2"; else echo "2001:db8:0:$1::$2"; fi
}

# build_chain SYSCTL...: builds the chain, every node forwarding, with the given sysctls too
# (the ICMP rate limits the caller wants).
build_chain() {
	local k i a b
	for ((k = 0; k <= HOPS; k++)); do
		a=$(node "$k")
		ip netns add "$a"
		ip -n "$a" link set lo up
		ip netns exec "$a" sysctl -qw \
			net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 "$@"
	done
	ip netns exec "$(node 0)" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
	for ((i = 0; i < HOPS; i++)); do
		a=$(node "$i") b=$(node $((i + 1)))
		ip -n "$a" link add right type veth peer name left netns "$b"
		ip -n "$a" addr add "$(v4 "$i" 1)/24" dev right
		ip -n "$a" addr add "$(v6 "$i" 1)/64" dev right nodad
		ip -n "$b" addr add "$(v4 "$i" 2)/24" dev left
		ip -n "$b" addr add "$(v6 "$i" 2)/64" dev left nodad
		ip -n "$a" link set right up
		ip -n "$b" link set left up
	done
	# Everything beyond a node lies toward the target, except the client's link behind it.
	for ((k = 0; k <= ROUTERS; k++)); do
		a=$(node "$k")
		ip -n "$a" route add default via "$(v4 "$k" 2)"
		ip -n "$a" -6 route add default via "$(v6 "$k" 2)"
		if [ "$k" -gt 1 ]; then
			ip -n "$a" route add 198.18.0.0/24 via "$(v4 $((k - 1)) 1)"
			ip -n "$a" -6 route add 2001:db8::/64 via "$(v6 $((k - 1)) 1)"
		fi
	done
	ip -n "$(node "$HOPS")" route add default via "$(v4 "$ROUTERS" 1)"
	ip -n "$(node "$HOPS")" -6 route add default via "$(v6 "$ROUTERS" 1)"
}

# target F, router K F: addresses of family F (4 or 6).
target() { if [ "$1" = 6 ]; then v6 "$ROUTERS" 2; else v4 "$ROUTERS" 2; fi; }
router() { if [ "$2" = 6 ]; then v6 $(($1 - 1)) 2; else v4 $(($1 - 1)) 2; fi; }
