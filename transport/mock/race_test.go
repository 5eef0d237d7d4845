//go:build race

package mock_test

// raceDetector reports whether the tests run under the race detector, which makes the large
// runs many times slower.
const raceDetector = true
