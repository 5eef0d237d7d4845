package lab

import (
	stderrors "errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsID names the network namespace of the calling thread ("net:[4026531840]").
func netnsID() (string, error) {
	return os.Readlink("/proc/thread-self/ns/net")
}

func isolate() error {
	if os.Geteuid() != 0 {
		return nil
	}
	here, err := netnsID()
	if err != nil {
		return err
	}
	left, private, marked := parseIsolated(os.Getenv(EnvIsolated))
	switch {
	case !marked:
		return runIsolated(here)
	case here == left:
		return fmt.Errorf("%s=%q says this process left network namespace %s, but it runs there",
			EnvIsolated, os.Getenv(EnvIsolated), left)
	case private != "":
		// A process the tests started (a fuzzing worker, a test binary run again), in the
		// private namespace or a lab's: set up already.
		return nil
	}
	if err := setUpPrivate(); err != nil {
		return err
	}
	return os.Setenv(EnvIsolated, left+" "+here)
}

// runIsolated runs the test binary again in a new network namespace and exits with its
// status. It returns only when the kernel refuses the namespace (after saying so), for the
// tests to run here without labs.
func runIsolated(here string) error {
	env := append(os.Environ(), EnvIsolated+"="+here, envSysctls+"="+hostSysctls())
	cmd := &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   os.Args,
		Env:    env,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		// Pdeathsig: the child dies with this thread, should the parent be killed.
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL},
	}
	// The thread that starts the child stays this goroutine's until the process exits, so
	// that Pdeathsig fires only when the process ends.
	runtime.LockOSThread()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		signal.Stop(sigs)
		fmt.Fprintf(os.Stderr, "lab: cannot run the tests in a network namespace of their own (%v): "+
			"they run in this one, and build no lab\n", err)
		return nil
	}
	// Signals meant for the tests (go test's SIGQUIT on timeout, a SIGTERM) go on to them.
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !stderrors.As(err, &ee) {
			fmt.Fprintf(os.Stderr, "lab: test binary in its network namespace: %v\n", err)
			os.Exit(2)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(os.Stderr, "lab: test binary in its network namespace ended by %v\n", ws.Signal())
			code = 128 + int(ws.Signal())
		}
	}
	os.Exit(code)
	return nil
}

// hostSysctls reads the sysctls of copiedSysctls here, as envSysctls carries them. Those the
// kernel does not have are left out.
func hostSysctls() string {
	var kv []string
	for _, k := range copiedSysctls {
		b, err := os.ReadFile(sysctlPath(k))
		if err != nil {
			continue
		}
		kv = append(kv, k+"="+strings.Join(strings.Fields(string(b)), " "))
	}
	return strings.Join(kv, ";")
}

func sysctlPath(key string) string { return "/proc/sys/" + strings.ReplaceAll(key, ".", "/") }

// setUpPrivate brings loopback up in the new namespace, writes the machine's sysctls where they
// differ from the new namespace's, and checks that loopback is the only interface.
func setUpPrivate() error {
	if err := linkUp("lo"); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	for _, e := range strings.Split(os.Getenv(envSysctls), ";") {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			continue
		}
		path := sysctlPath(k)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("sysctl %s in the new namespace: %w", k, err)
		}
		if strings.Join(strings.Fields(string(b)), " ") == v {
			continue
		}
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in the new namespace: %w", k, v, err)
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		var names []string
		for _, ifc := range ifs {
			names = append(names, ifc.Name+"("+ifc.Flags.String()+")")
		}
		return fmt.Errorf("the new namespace has interfaces %v, want lo alone and up", names)
	}
	return nil
}

// linkUp sets the IFF_UP flag of an interface.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
