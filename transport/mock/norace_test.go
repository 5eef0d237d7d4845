//go:build !race

package mock_test

const raceDetector = false
