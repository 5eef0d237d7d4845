// Package leakcheck checks that a test binary gives back what its tests took: after the tests
// have run, the number of goroutines and, on Linux, the set of open file descriptors must
// return to what they were before, within a short grace period for goroutines and closes that
// are still finishing.
//
// A package uses it from its TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// When something is left over, Main prints it (a dump of the goroutines, and each leaked
// descriptor with what /proc/self/fd says it points to) and exits with a non-zero status, so
// the package's tests fail even if every test passed.
//
// Goroutines that the standard library starts once and keeps for the life of the process
// (the os/signal dispatcher) are not counted. Descriptors the runtime opens once for its
// network poller are opened before the baseline is taken, so they are part of it.
package leakcheck
