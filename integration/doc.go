// Package integration holds icmpkit's tests against real kernels: the raw and unprivileged
// transports under probe's Ping, Multiping and Traceroute, in network namespaces built by
// internal/lab (routers that decrement TTL, silent routers, loss, IPv6, broadcast segments).
//
// The tests need root (or fail, when ICMPKIT_REQUIRE_PRIV=1, instead of skipping); unprivileged
// cases run a child process as uid 65534 inside the lab.
package integration
