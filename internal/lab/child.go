package lab

import (
	"context"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// EnvChild marks a process started by RunChild: it is "1" there.
const EnvChild = "ICMPKIT_LAB_CHILD"

// Nobody is the uid and gid a child runs as by default.
const Nobody = 65534

// Child describes a run of one test of the current test binary in a lab namespace, as an
// unprivileged user.
type Child struct {
	// Test is the test to run, as t.Name() gives it (subtests included); it must match exactly
	// one test. Often the caller's own t.Name(): the test checks IsChild to know its role.
	Test string
	// Env adds KEY=VALUE entries to the child's environment, e.g. Chain.Env().
	Env []string
	// PingGroupRange is written to net.ipv4.ping_group_range in the namespace before the child
	// starts. Empty means "GID GID", admitting the child to ping sockets; "1 0" shuts it out.
	PingGroupRange string
	// UID and GID of the child; zero means Nobody (65534). The child has no supplementary groups.
	UID, GID int
	// Timeout bounds the child's run (passed as -test.timeout too); zero means 2 minutes.
	Timeout time.Duration
	// MayFail keeps the parent test going when the child fails or skips; by default RunChild
	// fails the parent with the child's output.
	MayFail bool
}

// ChildResult is the outcome of RunChild.
type ChildResult struct {
	Output   string // combined stdout and stderr of the child (go test -v output)
	ExitCode int    // -1 if it did not exit normally (killed, or never started)
	Passed   bool   // the test ran and passed
	Skipped  bool   // the test ran and skipped
	Err      error  // why the child could not run, or its exit error
}

// IsChild reports whether this process was started by RunChild.
func IsChild() bool { return os.Getenv(EnvChild) == "1" }

// RunChild runs one test of the current test binary again, in namespace ns, as an
// unprivileged user, and returns its outcome. The child process gets EnvChild=1 and Env, its
// working directory is a temporary directory, and the binary is a world-readable copy (the
// original may sit in a directory that only root can enter). Unless MayFail, the parent test
// fails with the child's output when the child fails, skips or runs no test.
func (l *Lab) RunChild(ns string, c Child) ChildResult {
	l.t.Helper()
	res := l.runChild(ns, c)
	if !c.MayFail && !res.Passed {
		uid, _ := c.ids()
		l.t.Fatalf("lab: child %s in %s (uid %d) did not pass: exit %d, err %v\n%s",
			c.Test, ns, uid, res.ExitCode, res.Err, res.Output)
	}
	return res
}

// ids returns the child's uid and gid with defaults filled in.
func (c *Child) ids() (uid, gid int) {
	uid, gid = c.UID, c.GID
	if uid == 0 {
		uid = Nobody
	}
	if gid == 0 {
		gid = Nobody
	}
	return uid, gid
}

func (l *Lab) runChild(ns string, c Child) ChildResult {
	res := ChildResult{ExitCode: -1}
	if c.Test == "" {
		res.Err = invalid("Child.Test", "empty test name")
		return res
	}
	uid, gid := c.ids()
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	bin, dir, err := l.childBinary()
	if err != nil {
		res.Err = err
		return res
	}
	pgr := c.PingGroupRange
	if pgr == "" {
		pgr = fmt.Sprintf("%d %d", gid, gid)
	}
	if err := l.Sysctl(ns, "net.ipv4.ping_group_range", pgr); err != nil {
		res.Err = err
		return res
	}

	ctx, cancel := context.WithTimeout(l.ctx, timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"-test.run", runPattern(c.Test), "-test.v", "-test.count=1",
		"-test.timeout", timeout.String())
	cmd.Dir = dir
	cmd.Env = childEnv(dir, c.Env)
	out := &capBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr(uid, gid)
	cmd.Cancel = func() error { killGroup(cmd.Process.Pid); return nil }
	cmd.WaitDelay = 2 * time.Second
	// Forked from a thread inside ns, the child starts in ns.
	if err := Do(ns, cmd.Start); err != nil {
		res.Err = fmt.Errorf("lab: start child: %w", err)
		return res
	}
	err = cmd.Wait()
	res.Output = out.String()
	res.Err = err
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	name := regexp.QuoteMeta(c.Test)
	res.Skipped = regexp.MustCompile(`(?m)^\s*--- SKIP: ` + name + ` `).MatchString(res.Output)
	res.Passed = err == nil && res.ExitCode == 0 &&
		regexp.MustCompile(`(?m)^\s*--- PASS: `+name+` `).MatchString(res.Output)
	return res
}

// runPattern turns a test name into a -test.run pattern that matches it alone.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// childEnv is the parent's environment without variables that point into root's space, plus the
// child marker and extra.
func childEnv(home string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvChild, EnvInfo, "HOME", "GOCOVERDIR":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, EnvChild+"=1", "HOME="+home)
	return append(env, extra...)
}

// childBinary copies the running test binary, once per lab, into a fresh directory that any
// user may enter, and returns the copy's path and its directory.
func (l *Lab) childBinary() (string, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.childBin != "" {
		return l.childBin, l.childDir, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", "", fmt.Errorf("lab: find test binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "iklab-")
	if err != nil {
		return "", "", fmt.Errorf("lab: child directory: %w", err)
	}
	l.childDir = dir // removed by cleanup
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("lab: child directory: %w", err)
	}
	bin := filepath.Join(dir, filepath.Base(self))
	if err := copyFile(bin, self); err != nil {
		return "", "", fmt.Errorf("lab: copy test binary: %w", err)
	}
	l.childBin = bin
	return bin, dir, nil
}

func copyFile(dst, src string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	defer func() { err = stderrors.Join(err, out.Close()) }()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Chmod(0o755)
}

// ChildInfo decodes the lab description that the parent passed with Env into v, failing the
// test if there is none.
func ChildInfo(t testing.TB, v any) {
	t.Helper()
	s, ok := os.LookupEnv(EnvInfo)
	if !ok {
		t.Fatalf("lab: %s not set: this test must be started by RunChild with a lab's Env()", EnvInfo)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("lab: decode %s: %v", EnvInfo, err)
	}
}

// ChildChain returns the ChainInfo passed by the parent through Chain.Env.
func ChildChain(t testing.TB) ChainInfo {
	t.Helper()
	var c ChainInfo
	ChildInfo(t, &c)
	return c
}

// ChildBroadcast returns the BroadcastInfo passed by the parent through Broadcast.Env.
func ChildBroadcast(t testing.TB) BroadcastInfo {
	t.Helper()
	var b BroadcastInfo
	ChildInfo(t, &b)
	return b
}
