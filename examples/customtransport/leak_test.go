package main

import (
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/leakcheck"
)

// TestMain runs the example's tests, as root, in a network namespace of their own with only
// loopback (lab.Isolate), and fails them when they leave goroutines or file descriptors behind.
func TestMain(m *testing.M) { lab.Isolate(); leakcheck.Main(m) }
