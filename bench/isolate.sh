# shellcheck shell=bash
# Sourced by every bench script before it sends anything: as root, it runs the script again,
# with the same arguments, inside a network namespace of its own (unshare -n) whose only
# interface is loopback, and exits with its status. Everything the script then runs (icmpkit,
# fping, traceroute, the lab chains it builds with ip netns) starts from that namespace, where
# nothing is routed but loopback: no packet can leave through the machine's default route.
# The chains' namespaces are linked only to each other.
#
# ICMPKIT_BENCH_NETNS marks the run inside: it names the namespace that was left, and scripts
# that run others (multiping-all.sh) or themselves (traceroute.sh) do not isolate again. The
# new namespace gets the machine's net.ipv4.ping_group_range.
#
# Without root there is no namespace to make; the scripts then use the machine's loopback, and
# build no chain.

if [ "$(id -u)" = 0 ]; then
	if [ -z "${ICMPKIT_BENCH_NETNS:-}" ]; then
		if ! command -v unshare >/dev/null 2>&1; then
			echo "$(basename "$0"): unshare(1) (util-linux) is needed to run in a network namespace of its own" >&2
			exit 1
		fi
		# The Go builds inside find the module's dependencies in the module cache.
		if command -v go >/dev/null 2>&1; then
			(cd "$(dirname "${BASH_SOURCE[0]}")/.." && go mod download) ||
				echo "$(basename "$0"): go mod download failed; the builds inside may fail too" >&2
		fi
		ICMPKIT_BENCH_NETNS=$(readlink /proc/self/ns/net)
		ICMPKIT_BENCH_PING_GROUPS=$(cat /proc/sys/net/ipv4/ping_group_range)
		export ICMPKIT_BENCH_NETNS ICMPKIT_BENCH_PING_GROUPS
		status=0
		unshare --net -- "$BASH" "$0" "$@" || status=$?
		exit "$status"
	fi
	if [ "$(readlink /proc/self/ns/net)" = "$ICMPKIT_BENCH_NETNS" ]; then
		echo "$(basename "$0"): ICMPKIT_BENCH_NETNS says this namespace was left, but the script runs in it" >&2
		exit 1
	fi
	if [ -n "${ICMPKIT_BENCH_PING_GROUPS:-}" ]; then
		# The first script in the new namespace sets it up. Its net.ipv4.ping_group_range is
		# the kernel's default ("1 0"): the machine's is given to it, so that the unprivileged
		# mode opens as it would outside.
		ip link set lo up
		printf '%s\n' "$ICMPKIT_BENCH_PING_GROUPS" >/proc/sys/net/ipv4/ping_group_range
		unset ICMPKIT_BENCH_PING_GROUPS
		echo "$(basename "$0"): running in a network namespace of its own, with only loopback" >&2
	fi
fi
