package lab

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// doInNS runs fn on a locked thread moved into the namespace at path. It uses a goroutine of
// its own: should the thread fail to come back, that goroutine exits still locked and the
// runtime ends the thread, so no later code runs in the wrong namespace.
func doInNS(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("lab: open namespace: %w", err)
	}
	defer target.Close()
	if err := refuseLeft(target, path); err != nil {
		return err
	}

	type outcome struct {
		err      error
		returned bool
		panicked bool
		value    any
	}
	ch := make(chan outcome, 1)
	go func() {
		var out outcome
		defer func() { ch <- out }()
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			out.err = fmt.Errorf("lab: open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			out.err = fmt.Errorf("lab: enter namespace %s: %w", path, err)
			return
		}
		defer func() {
			if !out.returned {
				if r := recover(); r != nil {
					out.panicked, out.value = true, r
				}
			}
			if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
				// The thread stays locked and ends with this goroutine.
				out.err = errors.Join(out.err, fmt.Errorf("lab: leave namespace %s: %w", path, err))
				return
			}
			runtime.UnlockOSThread()
		}()
		out.err = fn()
		out.returned = true
	}()
	out := <-ch
	if out.panicked {
		panic(out.value)
	}
	if !out.returned && out.err == nil {
		return fmt.Errorf("lab: function in namespace %s exited its goroutine (t.FailNow inside Do?)", path)
	}
	return out.err
}

// groupAttr puts a background command in a process group of its own, so killGroup ends it
// together with its children.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// childAttr runs a child as uid and gid with no supplementary groups.
func childAttr(uid, gid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
	}
}

// refuseLeft refuses the network namespace that Isolate moved the tests out of (the
// machine's): a socket opened there could send through its default route.
func refuseLeft(ns *os.File, path string) error {
	left, _, ok := parseIsolated(os.Getenv(EnvIsolated))
	if !ok {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		return fmt.Errorf("lab: namespace %s: %w", path, err)
	}
	if fmt.Sprintf("net:[%d]", st.Ino) == left {
		return fmt.Errorf("lab: %s is the network namespace the tests were moved out of, the machine's own: "+
			"a lab node's sockets and commands never go there", path)
	}
	return nil
}
