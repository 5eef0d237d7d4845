// Package wine runs icmpkit's Windows test binaries under Wine for the tests on Linux: it
// finds wine64, makes a Wine prefix (a C: drive and registry of its own) inside a network
// namespace, and runs Windows programs there.
//
// Wine does its networking in service processes (winedevice.exe) that start with the prefix's
// wineserver and stay in the network namespace they started in. A prefix is therefore made
// and used inside one namespace, by [New], and never shared with a Wine session started
// elsewhere: ICMP sent by a program in it leaves from that namespace, whatever namespace the
// program itself runs in.
//
// Wine 8.0 lacks bcryptprimitives.dll, which programs built by Go 1.24 and later need before
// main runs; where the prefix has none, New puts in a stand-in that forwards its one function
// to Wine's advapi32 (see [Shim]).
package wine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// EnvRun is the environment variable that turns the tests that run Windows binaries under
// Wine on, when it is "1"; then a missing wine64 is a failure, not a reason to skip.
const EnvRun = "ICMPKIT_WINE"

// Enabled reports whether EnvRun asks for the Wine tests.
func Enabled() bool { return os.Getenv(EnvRun) == "1" }

// Where Debian's wine64 package puts its programs; the wine package adds wrappers on PATH.
var wineDirs = []string{"/usr/lib/wine", "/usr/lib64/wine", "/opt/wine-stable/bin"}

// Find gives the paths of wine64 and of wineserver.
func Find() (wine64, wineserver string, err error) {
	look := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
			for _, d := range wineDirs {
				if p := filepath.Join(d, n); isExecutable(p) {
					return p
				}
			}
		}
		return ""
	}
	wine64 = look("wine64")
	if wine64 == "" {
		return "", "", fmt.Errorf("wine64 not found on PATH nor in %s (Debian: apt-get install wine64)", strings.Join(wineDirs, ", "))
	}
	// The server of the same installation as wine64.
	for _, n := range []string{"wineserver64", "wineserver"} {
		if p := filepath.Join(filepath.Dir(wine64), n); isExecutable(p) {
			return wine64, p, nil
		}
	}
	if wineserver = look("wineserver64", "wineserver"); wineserver == "" {
		return "", "", fmt.Errorf("wineserver not found beside %s", wine64)
	}
	return wine64, wineserver, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Prefix is a Wine prefix whose Wine session lives in one network namespace.
type Prefix struct {
	Dir        string // WINEPREFIX
	NS         string // the network namespace; "" for the caller's own
	wine64     string
	wineserver string
}

// InitTimeout bounds the making of a prefix; Debian's Wine 8.0 takes some 10 s.
const InitTimeout = 3 * time.Minute

// New makes a prefix in dir (which must not exist or be empty) with its Wine session in
// namespace ns ("" for the caller's), and puts the bcryptprimitives.dll stand-in in it where
// Wine has none. Close ends its session.
func New(ctx context.Context, dir, ns string) (*Prefix, error) {
	wine64, wineserver, err := Find()
	if err != nil {
		return nil, err
	}
	p := &Prefix{Dir: dir, NS: ns, wine64: wine64, wineserver: wineserver}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, InitTimeout)
	defer cancel()
	if out, err := p.Command(ctx, "wineboot", "--init").CombinedOutput(); err != nil {
		p.Close()
		return nil, fmt.Errorf("wine: make prefix %s: %w: %s", dir, err, bytes.TrimSpace(out))
	}
	sys32 := filepath.Join(dir, "drive_c", "windows", "system32")
	shim := filepath.Join(sys32, ShimName)
	if _, err := os.Stat(shim); os.IsNotExist(err) {
		if err := os.WriteFile(shim, Shim(ShimName, "ProcessPrng", "advapi32.SystemFunction036"), 0o644); err != nil {
			p.Close()
			return nil, fmt.Errorf("wine: write %s: %w", shim, err)
		}
	}
	return p, nil
}

// Env gives the environment of Wine programs in the prefix: the caller's, with the prefix,
// Wine's own messages silenced, no Mono or Gecko install, and a temporary directory inside the
// prefix (where the wineserver keeps its socket), so that Close leaves nothing behind.
func (p *Prefix) Env() []string {
	return append(os.Environ(), "WINEPREFIX="+p.Dir, "TMPDIR="+filepath.Join(p.Dir, "tmp"),
		"WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
}

// Command gives the command that runs program (a path to a .exe, or the name of one of Wine's
// own programs) with args under wine64 in the prefix's namespace.
func (p *Prefix) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	argv := append([]string{p.wine64, program}, args...)
	if p.NS != "" {
		argv = append([]string{"ip", "netns", "exec", p.NS}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = p.Env()
	cmd.Stdin = nil
	return cmd
}

// Close ends the prefix's Wine session (its wineserver and every Wine process of the prefix)
// and removes the prefix.
func (p *Prefix) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kill := exec.CommandContext(ctx, p.wineserver, "-k")
	kill.Env = p.Env()
	_ = kill.Run() // fails when no server runs
	// The processes it killed may still be on their way out.
	var err error
	for range 50 {
		if err = os.RemoveAll(p.Dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
