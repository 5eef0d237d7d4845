//go:build !unix

package main

import (
	"os"
	"time"
)

type usage struct {
	user, sys time.Duration
	rssMB     float64
}

// selfUsage is not measured on this system.
func selfUsage() usage { return usage{} }

// childUsage gives an ended child's CPU time; peak RSS is not measured on this system.
func childUsage(ps *os.ProcessState) usage {
	return usage{user: ps.UserTime(), sys: ps.SystemTime()}
}
