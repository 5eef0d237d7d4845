package lab

import (
	"bytes"
	"context"
	stderrors "errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/errors"
)

// EnvRequirePriv is the environment variable that turns a skip for a missing privilege into
// a failure when it is "1" (CI sets it, so CI cannot go green by skipping).
const EnvRequirePriv = "ICMPKIT_REQUIRE_PRIV"

// ExecTimeout bounds every command that Exec runs.
const ExecTimeout = 2 * time.Minute

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// namePrefix starts every namespace a lab creates: "ik<pid>-<lab>-<node>".
const namePrefix = "ik"

// leftoverName matches namespace names made by some lab process; group 1 is its pid.
var leftoverName = regexp.MustCompile(`^` + namePrefix + `([0-9]+)-[0-9]+-`)

var labSeq atomic.Uint64

// Lab is a set of network namespaces owned by one test. Everything it created is removed by
// t.Cleanup, whether the test passes, fails or panics. Chain and Broadcast embed it.
type Lab struct {
	t      testing.TB
	prefix string // "ik<pid>-<n>-"
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	namespaces []string
	procs      []*Proc
	childDir   string // 0755 directory holding a copy of the test binary, made on first RunChild
	childBin   string
	etcDirs    []string // /etc/netns/NS directories made by Hosts
}

// SkipOrFail skips the test for a missing privilege or facility, or fails it instead when
// ICMPKIT_REQUIRE_PRIV=1.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(EnvRequirePriv) == "1" {
		t.Fatalf("%s (%s=1 forbids skipping)", msg, EnvRequirePriv)
		return
	}
	t.Skip(msg)
}

var (
	availOnce sync.Once
	availErr  error
)

// Require skips the test unless this process can build labs: Linux, root, a process isolated
// by [Isolate] in a network namespace of its own, iproute2's ip and nftables' nft on PATH, and
// a network namespace that can be created. With
// ICMPKIT_REQUIRE_PRIV=1 it fails the test instead of skipping. The first call also removes
// namespaces left behind by lab processes that no longer run.
func Require(t testing.TB) {
	t.Helper()
	availOnce.Do(func() { availErr = probeAvailable() })
	if availErr != nil {
		SkipOrFail(t, "lab unavailable: %v", availErr)
	}
}

func probeAvailable() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces need Linux, not %s", runtime.GOOS)
	}
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("network namespaces need root, running as uid %d", uid)
	}
	if !Isolated() {
		return fmt.Errorf("this test process runs in the network namespace it was started in, " +
			"where a packet for a lab address could leave through the machine's default route: " +
			"its TestMain must call lab.Isolate first")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %w", tool, err)
		}
	}
	sweepLeftovers()
	name := fmt.Sprintf("%s%d-0-probe", namePrefix, os.Getpid())
	if out, err := runIP("", []string{"netns add " + name}); err != nil {
		return fmt.Errorf("cannot create a network namespace: %w: %s", err, out)
	}
	if out, err := runIP("", []string{"netns del " + name}); err != nil {
		return fmt.Errorf("cannot delete network namespace %s: %w: %s", name, err, out)
	}
	return nil
}

// sweepLeftovers removes namespaces whose name says a lab process made them and whose
// process is gone (a test binary killed by a timeout never runs its cleanups).
func sweepLeftovers() {
	var cmds []string
	for _, name := range leftovers(netnsDir) {
		cmds = append(cmds, "netns del "+name)
	}
	if len(cmds) > 0 {
		_, _ = runIP("", cmds, "-force")
	}
	for _, name := range leftovers(etcNetnsDir) {
		_ = os.RemoveAll(filepath.Join(etcNetnsDir, name))
	}
}

// leftovers lists the entries of dir named as a lab process names its namespaces, whose
// process no longer runs.
func leftovers(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		m := leftoverName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		names = append(names, e.Name())
	}
	return names
}

// newLab starts an empty lab owned by t, with cleanup registered.
func newLab(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	l := &Lab{
		t:      t,
		prefix: fmt.Sprintf("%s%d-%d-", namePrefix, os.Getpid(), labSeq.Add(1)),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	t.Cleanup(l.cleanup)
	return l
}

// nsName is the namespace name of a node of this lab.
func (l *Lab) nsName(node string) string { return l.prefix + node }

// addNamespaces creates the namespaces and records them for cleanup before creating them, so a
// half-done batch is still removed.
func (l *Lab) addNamespaces(names []string) error {
	l.mu.Lock()
	l.namespaces = append(l.namespaces, names...)
	l.mu.Unlock()
	cmds := make([]string, len(names))
	for i, n := range names {
		cmds[i] = "netns add " + n
	}
	if out, err := runIP("", cmds); err != nil {
		return fmt.Errorf("lab: create namespaces: %w: %s", err, out)
	}
	return nil
}

func (l *Lab) cleanup() {
	l.cancel()
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	names := l.namespaces
	l.namespaces = nil
	dir := l.childDir
	etcDirs := l.etcDirs
	l.etcDirs = nil
	l.mu.Unlock()
	for _, d := range etcDirs {
		_ = os.RemoveAll(d)
	}
	for _, p := range procs {
		_, _ = p.Stop()
	}
	if len(names) > 0 {
		cmds := make([]string, len(names))
		for i, n := range names {
			cmds[i] = "netns del " + n
		}
		_, _ = runIP("", cmds, "-force")
		var left []string
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(netnsDir, n)); err == nil {
				left = append(left, n)
			}
		}
		if len(left) > 0 {
			l.t.Errorf("lab: namespaces left after cleanup: %v", left)
		}
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// Namespaces lists the names of the lab's namespaces.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.namespaces...)
}

// runIP runs one `ip` process over a batch of commands, in namespace ns when ns is not empty.
func runIP(ns string, cmds []string, opts ...string) (string, error) {
	args := append([]string(nil), opts...)
	if ns != "" {
		args = append(args, "-n", ns)
	}
	args = append(args, "-batch", "-")
	ctx, cancel := context.WithTimeout(context.Background(), ExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Do runs fn on an OS thread that has entered network namespace ns (a name under /run/netns,
// or an absolute path such as /proc/PID/ns/net) and returns what fn returns. Sockets that fn
// opens stay in ns for their whole life, so a test creates its transport inside Do and uses it
// anywhere. Goroutines that fn starts do not run in ns. fn must report failure by returning an
// error, not by t.FailNow. A panic in fn is raised again in the caller. If the thread cannot
// return to its original namespace, it is ended rather than reused.
func Do(ns string, fn func() error) error {
	return doInNS(nsPath(ns), fn)
}

// Do runs fn inside namespace ns; see the package function Do.
func (l *Lab) Do(ns string, fn func() error) error { return Do(ns, fn) }

func nsPath(ns string) string {
	if filepath.IsAbs(ns) {
		return ns
	}
	return filepath.Join(netnsDir, ns)
}

// etcNetnsDir is where `ip netns exec NAME` finds files that it mounts over those of /etc
// for the command it runs: /etc/netns/NAME/hosts is then that command's /etc/hosts.
const etcNetnsDir = "/etc/netns"

// Hosts gives the commands that Exec, Start and `ip netns exec` run in namespace ns a hosts
// file of their own (/etc/netns/NS/hosts, mounted over /etc/hosts for them), so that names
// resolve to lab addresses and lab addresses back to names, for the programs tested and the
// reference tools alike, with no DNS server. Each entry maps a name to an address; the file
// keeps the order given. It is removed with the lab.
func (l *Lab) Hosts(ns string, entries ...HostEntry) error {
	dir := filepath.Join(etcNetnsDir, ns)
	l.mu.Lock()
	l.etcDirs = append(l.etcDirs, dir)
	l.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: hosts of %s: %w", ns, err)
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\n", e.Addr, e.Name)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("lab: hosts of %s: %w", ns, err)
	}
	return nil
}

// HostEntry is a line of a hosts file: a name for an address.
type HostEntry struct {
	Name string
	Addr netip.Addr
}

// Sysctl sets a sysctl (dotted form, e.g. "net.ipv4.ping_group_range") in namespace ns.
func (l *Lab) Sysctl(ns, key, value string) error {
	return setSysctls(ns, [][2]string{{key, value}})
}

// SetPingGroupRange sets net.ipv4.ping_group_range in namespace ns (it governs IPv6 ping
// sockets too). lo > hi, as in the default "1 0", admits no group.
func (l *Lab) SetPingGroupRange(ns string, lo, hi uint32) error {
	return l.Sysctl(ns, "net.ipv4.ping_group_range", fmt.Sprintf("%d %d", lo, hi))
}

// setSysctls writes sysctls in one visit to namespace ns. Keys use dots; /proc/sys/net seen from
// a thread shows that thread's namespace.
func setSysctls(ns string, kv [][2]string) error {
	return Do(ns, func() error {
		var errs []error
		for _, p := range kv {
			path := "/proc/sys/" + strings.ReplaceAll(p[0], ".", "/")
			if err := os.WriteFile(path, []byte(p[1]), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", p[0], p[1], err))
			}
		}
		return stderrors.Join(errs...)
	})
}

// Exec runs a command in namespace ns (through `ip netns exec`) and returns its combined
// output. The error, if any, is the command's (an *exec.ExitError for a non-zero status).
// It never runs longer than ExecTimeout or past the end of the test.
func (l *Lab) Exec(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(l.ctx, ExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Proc is a background command started by Start.
type Proc struct {
	cmd  *exec.Cmd
	out  *capBuffer
	done chan struct{}
	err  error
	stop sync.Once
}

// Start runs a command in namespace ns in the background (for example `ping -f` as foreign
// traffic). It is killed, with any children it started, by Stop or at the end of the test.
func (l *Lab) Start(ns, name string, args ...string) (*Proc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	p := &Proc{cmd: cmd, out: &capBuffer{max: 1 << 16}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.SysProcAttr = groupAttr()
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start %s in %s: %w", name, ns, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// Pid is the process id of the command.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the command has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop kills the command and its process group if it still runs, waits for it, and returns
// its output (the first 64 KiB) and its exit error. Calling it again returns the same.
func (p *Proc) Stop() (string, error) {
	p.stop.Do(func() {
		select {
		case <-p.done:
		default:
			killGroup(p.cmd.Process.Pid)
		}
		<-p.done
	})
	return p.out.String(), p.err
}

// capBuffer keeps the first max bytes written to it and discards the rest.
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// invalid is the error for a bad lab configuration field.
func invalid(field, format string, a ...any) error {
	return errors.Invalid("lab: "+field, format, a...)
}
