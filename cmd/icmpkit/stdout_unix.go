//go:build unix

package main

import (
	"golang.org/x/sys/unix"
)

// stdoutClosedAtStart reports whether the program was started with its standard output closed
// (`icmpkit ping HOST >&-`). Go's runtime then puts /dev/null in its place, opened for reading
// and writing (runtime.checkfds), so that the program's writes would vanish; a shell's
// redirection to /dev/null, os/exec and systemd open it for writing only. What the program
// writes then is lost, as it is for iputils ping, which reports it as a write error.
func stdoutClosedAtStart() bool {
	fl, err := unix.FcntlInt(1, unix.F_GETFL, 0)
	if err != nil || fl&unix.O_ACCMODE != unix.O_RDWR {
		return false
	}
	var out, null unix.Stat_t
	if unix.Fstat(1, &out) != nil || unix.Stat("/dev/null", &null) != nil {
		return false
	}
	return out.Mode&unix.S_IFMT == unix.S_IFCHR && out.Rdev == null.Rdev
}
