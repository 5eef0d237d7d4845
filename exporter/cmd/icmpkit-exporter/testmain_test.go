package main

import (
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/leakcheck"
)

// TestMain runs the tests in a network namespace of their own (as root) and fails them when
// they leave goroutines or file descriptors behind.
func TestMain(m *testing.M) { lab.Isolate(); leakcheck.Main(m) }
