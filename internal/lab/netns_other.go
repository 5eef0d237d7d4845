//go:build !linux

package lab

import (
	"os"
	"syscall"

	"github.com/icmpkit/icmpkit/errors"
)

// Labs need Linux network namespaces; Require skips (or fails) before any of these is reached.

func doInNS(path string, fn func() error) error { return errors.NotSupported("lab: enter namespace") }

func groupAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func processAlive(pid int) bool { return true }

func childAttr(uid, gid int) *syscall.SysProcAttr { return nil }
