package lab

import (
	"fmt"
	"os"
	"strings"
)

// EnvIsolated marks a process that runs in the private network namespace Isolate made. Its
// value names the namespace the test binary left ("net:[4026531840]"), then, once the new
// namespace is set up, that namespace too, separated by a space.
const EnvIsolated = "ICMPKIT_NETNS_ISOLATED"

// envSysctls carries the machine's own values of the sysctls in copiedSysctls to the process
// in the private namespace, as "key=value" entries separated by ";".
const envSysctls = "ICMPKIT_NETNS_SYSCTLS"

// copiedSysctls are the per-namespace settings that decide what a test sees of ICMP on
// loopback. A new namespace starts with the kernel's defaults; the private one is given the
// machine's values instead, so that a test behaves there as it would have outside (for
// example, datagram ping sockets are open to the same groups).
var copiedSysctls = []string{
	"net.ipv4.ping_group_range",
	"net.ipv4.icmp_echo_ignore_all",
	"net.ipv4.icmp_echo_ignore_broadcasts",
	"net.ipv4.icmp_ratelimit",
	"net.ipv4.icmp_ratemask",
	"net.ipv4.icmp_msgs_per_sec",
	"net.ipv4.icmp_msgs_burst",
	"net.ipv4.ip_default_ttl",
	"net.ipv6.icmp.ratelimit",
	"net.ipv6.icmp.echo_ignore_all",
	"net.ipv6.icmp.echo_ignore_multicast",
	"net.ipv6.icmp.echo_ignore_anycast",
}

// Isolate runs the rest of the test binary in a network namespace of its own that has only
// loopback: a package's TestMain calls it before anything else,
//
//	func TestMain(m *testing.M) { lab.Isolate(); leakcheck.Main(m) }
//
// As root on Linux, the first call runs the binary again, with the same arguments, standard
// input and outputs, in a new network namespace (CLONE_NEWNET), and exits with its status; it
// never returns there. In the new namespace it brings loopback up, gives it the machine's
// values of the ICMP sysctls (net.ipv4.ping_group_range and others), checks that loopback is
// its only interface, and returns. Lab namespaces are made from there, and every socket and
// command the tests open outside a lab (iputils ping, traceroute, Wine) is in that namespace,
// whose only route is loopback: a packet for a lab address sent from the wrong namespace
// meets "network is unreachable" instead of the machine's default route. [Require] refuses
// to build a lab in a process that is not isolated.
//
// Without root, or on another system, Isolate does nothing: such a process can build no lab.
// Where the kernel refuses a new namespace, it says so on standard error and the tests run
// where they are, with no lab either. In a process Isolate started (and in those its tests
// start, which inherit EnvIsolated) it does not start another.
func Isolate() {
	if err := isolate(); err != nil {
		fmt.Fprintf(os.Stderr, "lab: isolate the tests in a network namespace of their own: %v\n", err)
		os.Exit(2)
	}
}

// Isolated reports whether this process runs in a network namespace other than the one its
// test binary was started in, as Isolate arranges.
func Isolated() bool {
	left, _, ok := parseIsolated(os.Getenv(EnvIsolated))
	if !ok {
		return false
	}
	here, err := netnsID()
	return err == nil && here != left
}

// parseIsolated splits EnvIsolated's value into the namespace left and the private one ("" when
// not yet set up).
func parseIsolated(v string) (left, private string, ok bool) {
	f := strings.Fields(v)
	switch len(f) {
	case 1:
		return f[0], "", true
	case 2:
		return f[0], f[1], true
	}
	return "", "", false
}
