package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// nft loads an nftables ruleset into namespace ns.
func nft(ns, rules string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// IPv6 address flags in /proc/net/if_inet6.
const (
	ifaTentative = 0x40
	ifaDADFailed = 0x08
)

// addrWait bounds how long a namespace may take to get its links running and addresses usable.
const addrWait = 5 * time.Second

// vethCmd is the `ip` command that creates veth pair number k between two namespaces. Each end
// gets an interface index of its own: with equal indexes (both ends would be 2 in fresh
// namespaces) the kernel treats the peer's carrier change as non-urgent and activates the
// device up to a second later, losing the first packets sent.
func vethCmd(name, ns, peer, peerNS string, k int) string {
	return fmt.Sprintf("link add %s index %d netns %s type veth peer name %s index %d netns %s",
		name, 10+2*k, ns, peer, 11+2*k, peerNS)
}

// waitReady waits until every interface that is up in namespace ns runs (has carrier and an
// active queue) and no IPv6 address there is tentative.
func waitReady(ns string) error {
	deadline := time.Now().Add(addrWait)
	for {
		var tentative []string
		err := Do(ns, func() error {
			ifs, err := net.Interfaces()
			if err != nil {
				return err
			}
			for _, ifc := range ifs {
				if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagRunning == 0 {
					tentative = append(tentative, ifc.Name+" not running")
				}
			}
			b, err := os.ReadFile("/proc/thread-self/net/if_inet6")
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					continue
				}
				flags, err := strconv.ParseUint(f[4], 16, 32)
				if err != nil {
					return fmt.Errorf("if_inet6 line %q: %w", line, err)
				}
				if flags&ifaDADFailed != 0 {
					return fmt.Errorf("duplicate address detection failed for %s on %s", f[0], f[5])
				}
				if flags&ifaTentative != 0 {
					tentative = append(tentative, f[0]+"%"+f[5])
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("lab: check links and addresses: %w", err)
		}
		if len(tentative) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: not ready after %v: %v", addrWait, tentative)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
