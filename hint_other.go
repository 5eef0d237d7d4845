//go:build !windows

package icmpkit

// permissionHint names the remedies when auto mode can open neither transport.
const permissionHint = "run as root, or grant CAP_NET_RAW (setcap cap_net_raw+ep BINARY) for raw sockets, " +
	"or admit the process's group to unprivileged ICMP sockets (sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")"
