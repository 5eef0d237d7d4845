package exporter

import (
	"testing"

	"github.com/icmpkit/icmpkit/internal/leakcheck"
)

// TestMain fails the package's tests when they leave goroutines or file descriptors behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
