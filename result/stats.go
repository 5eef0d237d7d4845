package result

import (
	"math"
	"time"
)

// Stats is a running summary of round-trip times. It holds no list, so it stays the same size
// however many RTTs it has seen. The zero value is an empty summary.
type Stats struct {
	n         int
	min, max  time.Duration
	mean, m2  float64 // Welford's running mean and sum of squared deviations, in ns
	jitterSum float64 // sum of |rtt[i] - rtt[i-1]|, in ns
	last      time.Duration
}

// Add records one RTT.
func (s *Stats) Add(rtt time.Duration) {
	s.n++
	if s.n == 1 || rtt < s.min {
		s.min = rtt
	}
	if s.n == 1 || rtt > s.max {
		s.max = rtt
	}
	x := float64(rtt)
	d := x - s.mean
	s.mean += d / float64(s.n)
	s.m2 += d * (x - s.mean)
	if s.n > 1 {
		s.jitterSum += math.Abs(float64(rtt - s.last))
	}
	s.last = rtt
}

// Count is the number of RTTs recorded.
func (s *Stats) Count() int { return s.n }

// Min is the smallest RTT, 0 with none.
func (s *Stats) Min() time.Duration { return s.min }

// Max is the largest RTT, 0 with none.
func (s *Stats) Max() time.Duration { return s.max }

// Avg is the mean RTT, 0 with none.
func (s *Stats) Avg() time.Duration { return time.Duration(math.Round(s.mean)) }

// StdDev is the population standard deviation of the RTTs (iputils ping's mdev), 0 with
// fewer than two.
func (s *Stats) StdDev() time.Duration {
	if s.n < 2 {
		return 0
	}
	return time.Duration(math.Round(math.Sqrt(s.m2 / float64(s.n))))
}

// Jitter is icmplib's: the mean absolute difference between consecutive RTTs, 0 with fewer
// than two.
func (s *Stats) Jitter() time.Duration {
	if s.n < 2 {
		return 0
	}
	return time.Duration(math.Round(s.jitterSum / float64(s.n-1)))
}
