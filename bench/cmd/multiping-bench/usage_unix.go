//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

type usage struct {
	user, sys time.Duration
	rssMB     float64
}

func fromRusage(ru *syscall.Rusage) usage {
	rss := float64(ru.Maxrss) / 1024 // kilobytes on Linux and the BSDs
	if runtime.GOOS == "darwin" {
		rss /= 1024 // bytes on macOS
	}
	return usage{
		user:  time.Duration(ru.Utime.Nano()),
		sys:   time.Duration(ru.Stime.Nano()),
		rssMB: rss,
	}
}

// selfUsage gives this process's CPU time and peak RSS.
func selfUsage() usage {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return usage{}
	}
	return fromRusage(&ru)
}

// childUsage gives an ended child's CPU time and peak RSS.
func childUsage(ps *os.ProcessState) usage {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{user: ps.UserTime(), sys: ps.SystemTime()}
	}
	return fromRusage(ru)
}
