package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/raw"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// rawFamilies are the address families every raw-transport test covers.
var rawFamilies = []struct {
	name string
	v6   bool
}{{"v4", false}, {"v6", true}}

// rawPick gives a node's address of the family.
func rawPick(n lab.Node, v6 bool) netip.Addr {
	if v6 {
		return n.V6
	}
	return n.V4
}

// rawFamily gives the transport.Family that opens only the socket of the family.
func rawFamily(v6 bool) transport.Family {
	if v6 {
		return transport.FamilyIPv6
	}
	return transport.FamilyIPv4
}

// rawGuard bounds every probing call of these tests: a call that hangs fails its test here
// rather than stalling the whole run.
const rawGuard = 30 * time.Second

// rawOpen makes a raw transport whose sockets live in namespace ns, closed at the end of the
// test.
func rawOpen(t *testing.T, ns string, cfg raw.Config) *raw.Transport {
	t.Helper()
	var tr *raw.Transport
	require.NoError(t, lab.Do(ns, func() error {
		var err error
		tr, err = raw.New(cfg)
		return err
	}), "open raw sockets in %s", ns)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// rawPingRun is what one probe.Ping gave: the Host, every outcome OnReply saw, and how long
// the call took.
type rawPingRun struct {
	host     *result.Host
	outcomes []probe.Outcome
	elapsed  time.Duration
}

// rawPing pings dst through tr with opts (its OnReply replaced by a recorder) and fails the
// test if Ping returns an error or outlives rawGuard.
func rawPing(t *testing.T, tr *raw.Transport, dst netip.Addr, opts probe.PingOptions) rawPingRun {
	t.Helper()
	pr := probe.New(tr, nil)
	defer pr.Close()
	run, err := rawPingErr(pr, dst, opts)
	require.NoError(t, err, "ping %s", dst)
	require.NotNil(t, run.host, "ping %s: no host", dst)
	return run
}

// rawPingErr is rawPing over a Prober, for callers that check the error themselves (it may
// run on any goroutine).
func rawPingErr(pr *probe.Prober, dst netip.Addr, opts probe.PingOptions) (rawPingRun, error) {
	var run rawPingRun
	opts.OnReply = func(o probe.Outcome) { run.outcomes = append(run.outcomes, o) }
	ctx, cancel := context.WithTimeout(context.Background(), rawGuard)
	defer cancel()
	start := time.Now()
	h, err := pr.Ping(ctx, dst, &opts)
	run.elapsed = time.Since(start)
	run.host = h
	return run, err
}

// rawTally counts outcomes by what happened.
type rawTally struct {
	replies, errors, timeouts, duplicates int
	ttls                                  map[int]int // received TTL of the echo replies
	sources                               map[netip.Addr]int
}

func rawCount(outcomes []probe.Outcome) rawTally {
	c := rawTally{ttls: map[int]int{}, sources: map[netip.Addr]int{}}
	for _, o := range outcomes {
		switch {
		case o.TimedOut:
			c.timeouts++
			continue
		case o.Duplicate:
			c.duplicates++
		case o.Reply.Err() == nil:
			c.replies++
			c.ttls[o.Reply.TTL]++
		default:
			c.errors++
		}
		c.sources[o.Reply.Source]++
	}
	return c
}

// rawBinomial gives the exact two-sided acceptance interval [lo, hi] of a binomial(n, p)
// count at confidence conf: P(X < lo) <= (1-conf)/2 and P(X > hi) <= (1-conf)/2, each bound as
// tight as that allows.
func rawBinomial(n int, p, conf float64) (lo, hi int) {
	tail := (1 - conf) / 2
	pmf := func(k int) float64 {
		lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
		return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	cdf := 0.0
	lo, hi = -1, n
	for k := 0; k <= n; k++ {
		cdf += pmf(k)
		if lo < 0 && cdf > tail {
			lo = k
		}
		if 1-cdf <= tail {
			hi = k
			break
		}
	}
	return lo, hi
}

// rawRTTRE matches iputils ping's summary line "rtt min/avg/max/mdev = 0.031/0.045/0.120/0.010 ms".
var rawRTTRE = regexp.MustCompile(`rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms`)

// rawIputilsMin parses the minimum RTT out of iputils ping's summary.
func rawIputilsMin(out string) (time.Duration, error) {
	m := rawRTTRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no rtt summary in ping output:\n%s", out)
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// rawSentRE matches iputils ping's "N packets transmitted, M received" line.
var rawSentRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// rawIputilsCounts parses how many requests iputils ping sent and how many replies it got.
func rawIputilsCounts(out string) (sent, received int, ok bool) {
	m := rawSentRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, false
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	return sent, received, true
}

// rawSeen is one echo request captured on arrival, with the IP header fields that matter.
type rawSeen struct {
	id, seq int
	ttl     int // IPv4 TTL or IPv6 hop limit as received
	tclass  int // IPv4 TOS byte or IPv6 traffic class as received
	data    []byte
}

// rawCapture is a plain raw ICMP socket, opened in some namespace, that records every echo
// request arriving there with its TTL and traffic class.
type rawCapture struct {
	fd int
	v6 bool
}

// rawCaptureIn opens a capture socket of the family inside namespace ns; it is closed at the
// end of the test.
func rawCaptureIn(t *testing.T, ns string, v6 bool) *rawCapture {
	t.Helper()
	c := &rawCapture{fd: -1, v6: v6}
	require.NoError(t, lab.Do(ns, func() error {
		domain, proto := unix.AF_INET, unix.IPPROTO_ICMP
		if v6 {
			domain, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
		}
		fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		c.fd = fd
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
			return err
		}
		if v6 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1); err != nil {
				return err
			}
			return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
		}
		return nil
	}), "capture socket in %s", ns)
	t.Cleanup(func() { unix.Close(c.fd) })
	return c
}

// drain reads, without waiting, every echo request queued on the capture socket.
func (c *rawCapture) drain(t *testing.T) []rawSeen {
	t.Helper()
	var seen []rawSeen
	buf := make([]byte, 1<<16)
	oob := make([]byte, 512)
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
			return seen
		}
		if err == unix.EINTR {
			continue
		}
		require.NoError(t, err, "capture read")
		var s rawSeen
		m := buf[:n]
		if c.v6 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			require.NoError(t, err, "capture control messages")
			s.ttl, s.tclass = -1, -1
			for _, cm := range msgs {
				if cm.Header.Level != unix.IPPROTO_IPV6 || len(cm.Data) < 4 {
					continue
				}
				v := int(int32(binary.NativeEndian.Uint32(cm.Data)))
				switch cm.Header.Type {
				case unix.IPV6_HOPLIMIT:
					s.ttl = v
				case unix.IPV6_TCLASS:
					s.tclass = v
				}
			}
			if len(m) < 8 || m[0] != 128 {
				continue
			}
		} else {
			if len(m) < 20 {
				continue
			}
			ihl := int(m[0]&0x0f) * 4
			if len(m) < ihl+8 {
				continue
			}
			s.ttl, s.tclass = int(m[8]), int(m[1])
			m = m[ihl:]
			if m[0] != 8 {
				continue
			}
		}
		s.id = int(binary.BigEndian.Uint16(m[4:6]))
		s.seq = int(binary.BigEndian.Uint16(m[6:8]))
		s.data = bytes.Clone(m[8:])
		seen = append(seen, s)
	}
}

// rawTagged makes a payload of size bytes that starts with tag, so that a capture can tell
// which call sent a request.
func rawTagged(tag string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i)
	}
	copy(b, tag)
	return b
}

// rawSocketDrops reads /proc/net/raw and /proc/net/raw6 in namespace ns through l and gives
// the kernel's drop counter (packets refused for want of receive buffer) of every raw socket
// there, split into this process's own sockets and the others', by inode.
func rawSocketDrops(t *testing.T, l *lab.Lab, ns string) (ours, others map[string]int) {
	t.Helper()
	mine := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ours, others = map[string]int{}, map[string]int{}
	for _, file := range []string{"/proc/net/raw", "/proc/net/raw6"} {
		out, err := l.Exec(ns, "cat", file)
		require.NoError(t, err, "%s:\n%s", file, out)
		for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if i == 0 || len(f) < 13 {
				continue
			}
			drops, err := strconv.Atoi(f[12])
			require.NoError(t, err, "drops in %q", line)
			if mine[f[9]] {
				ours[f[9]] = drops
			} else {
				others[f[9]] = drops
			}
		}
	}
	return ours, others
}
