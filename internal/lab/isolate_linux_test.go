package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// requireRoot skips (or fails, with ICMPKIT_REQUIRE_PRIV=1) a test that needs root.
func requireRoot(t *testing.T) {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		SkipOrFail(t, "the tests run in a namespace of their own only as root, not uid %d", uid)
	}
}

// TestIsolatedNamespace checks the namespace the tests run in: another than the one the
// binary was started in, with loopback alone, up, and nothing routed beyond it.
func TestIsolatedNamespace(t *testing.T) {
	requireRoot(t)
	require.True(t, Isolated(), "%s=%q", EnvIsolated, os.Getenv(EnvIsolated))
	left, private, ok := parseIsolated(os.Getenv(EnvIsolated))
	require.True(t, ok)
	here, err := netnsID()
	require.NoError(t, err)
	assert.NotEqual(t, left, here, "the tests run in the namespace the binary was started in")
	assert.Equal(t, private, here, "the namespace set up by Isolate")

	ifs, err := net.Interfaces()
	require.NoError(t, err)
	var names []string
	for _, ifc := range ifs {
		names = append(names, ifc.Name)
	}
	require.Equal(t, []string{"lo"}, names, "the interfaces of the tests' namespace")
	assert.NotZero(t, ifs[0].Flags&net.FlagUp, "lo is up")
	addrs, err := ifs[0].Addrs()
	require.NoError(t, err)
	var got []string
	for _, a := range addrs {
		got = append(got, a.String())
	}
	assert.ElementsMatch(t, []string{"127.0.0.1/8", "::1/128"}, got, "the addresses of lo")

	for _, k := range []string{"net.ipv4.ping_group_range", "net.ipv4.icmp_ratelimit"} {
		want, ok := hostValue(k)
		require.True(t, ok, "%s passed on in %s", k, envSysctls)
		b, err := os.ReadFile(sysctlPath(k))
		require.NoError(t, err)
		assert.Equal(t, want, strings.Join(strings.Fields(string(b)), " "), "%s as on the machine", k)
	}
}

// hostValue is the machine's value of a sysctl as the parent passed it on.
func hostValue(key string) (string, bool) {
	for _, e := range strings.Split(os.Getenv(envSysctls), ";") {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// TestIsolatedUnreachable sends toward lab addresses that no lab of this process holds, from
// the tests' namespace: every attempt meets "network is unreachable" in the kernel, before
// any packet exists.
func TestIsolatedUnreachable(t *testing.T) {
	requireRoot(t)
	for _, dst := range []string{"198.18.0.2", "198.18.255.1", "198.19.0.1", "2001:db8::2", "2001:db8:ffff::1"} {
		addr := netip.MustParseAddr(dst)
		t.Run(dst, func(t *testing.T) {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 33434)))
			if c != nil {
				c.Close()
			}
			assert.ErrorIs(t, err, syscall.ENETUNREACH, "UDP connect to %s", dst)

			family, proto := unix.AF_INET6, unix.IPPROTO_ICMPV6
			var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: addr.As16()}
			msg := []byte{128, 0, 0, 0, 0, 0, 0, 0} // echo request; the kernel computes the checksum
			if addr.Is4() {
				family, proto = unix.AF_INET, unix.IPPROTO_ICMP
				sa = &unix.SockaddrInet4{Addr: addr.As4()}
				msg = []byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0} // echo request, id 0, seq 0
			}
			fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
			require.NoError(t, err, "raw ICMP socket")
			defer unix.Close(fd)
			err = unix.Sendto(fd, msg, 0, sa)
			assert.ErrorIs(t, err, syscall.ENETUNREACH, "raw ICMP echo request to %s", dst)
		})
	}
}

// TestRequireRefusesUnisolated: a process that has not left the namespace it was started in
// gets no lab.
func TestRequireRefusesUnisolated(t *testing.T) {
	here, err := netnsID()
	require.NoError(t, err)
	for _, v := range []string{"", here, here + " net:[1]", "a b c"} {
		t.Setenv(EnvIsolated, v)
		assert.False(t, Isolated(), "%s=%q", EnvIsolated, v)
		if os.Geteuid() == 0 {
			err := probeAvailable()
			if assert.Error(t, err, "%s=%q", EnvIsolated, v) {
				assert.Contains(t, err.Error(), "lab.Isolate")
			}
		}
	}
}

// envRerun makes TestIsolateRerun, run again by itself, report its namespace and fail.
const envRerun = "ICMPKIT_LAB_ISOLATE_RERUN"

// TestIsolateRerun runs this test binary again as a new process started in the tests'
// namespace, without EnvIsolated: it goes on into a namespace of its own, and its output and
// exit status come back through the process that started it.
func TestIsolateRerun(t *testing.T) {
	if os.Getenv(envRerun) == "1" {
		here, _ := netnsID()
		fmt.Printf("rerun: netns %s, %s=%q\n", here, EnvIsolated, os.Getenv(EnvIsolated))
		t.Error("failing on purpose, for the exit status")
		return
	}
	requireRoot(t)
	here, err := netnsID()
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-test.run", "^TestIsolateRerun$", "-test.v", "-test.count=1")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != EnvIsolated {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envRerun+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "exit error %v, output:\n%s", err, out)
	assert.Equal(t, 1, ee.ExitCode(), "the test's status, through the process that started it\n%s", out)
	assert.Contains(t, string(out), "--- FAIL: TestIsolateRerun", "the test's output")
	m := regexp.MustCompile(`rerun: netns (\S+), ` + EnvIsolated + `="(\S+) (\S+)"`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "%s", out)
	assert.Equal(t, here, m[2], "the namespace the rerun left is the one it was started in")
	assert.NotEqual(t, here, m[1], "the rerun has a namespace of its own")
	assert.Equal(t, m[1], m[3], "the rerun's namespace is the one it set up")
}

// TestEveryTestMainIsolates: every package of the module with tests has a TestMain that calls
// Isolate, so that no test binary builds a lab or opens a socket in the machine's namespace.
func TestEveryTestMainIsolates(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the module's root")
	withTests := map[string]bool{}
	isolated := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != root && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		withTests[dir] = true
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if main := testMainBody(string(b)); main != "" && regexp.MustCompile(`\bIsolate\(\)`).MatchString(main) {
			isolated[dir] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, withTests)
	for dir := range withTests {
		assert.True(t, isolated[dir], "package %s: its TestMain must call lab.Isolate first", dir)
	}
}

// testMainBody gives the text of TestMain's body up to the first m.Run or Main call, or "".
func testMainBody(src string) string {
	i := strings.Index(src, "func TestMain(m *testing.M) {")
	if i < 0 {
		return ""
	}
	body := src[i:]
	if j := regexp.MustCompile(`\bm\.Run\(\)|\bMain\(m\)|\bRun\(m,`).FindStringIndex(body); j != nil {
		return body[:j[0]]
	}
	return ""
}
