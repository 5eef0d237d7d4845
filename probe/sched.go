package probe

import "time"

// A scheduler decides when a run's requests go: it holds the requests in flight in send order
// (to expire them in deadline order), the hosts waiting for the time of their next request,
// the hosts whose next request may go now, and the rate over all of them.
type scheduler struct {
	expiry ring    // requests in send order
	due    dueHeap // hosts waiting for the time of their next request
	ready  fifo    // hosts whose next request may go now

	rate  float64   // requests a second over the run; 0: no limit
	start time.Time // when the run began, the base of the rate
	sent  int64     // requests sent (or counted as sent) so far
}

// promote moves the hosts whose next request is due to the ready queue.
func (s *scheduler) promote(now time.Time) {
	for s.due.len() > 0 && !s.due.min().after(now) {
		s.ready.push(s.due.pop().host)
	}
}

// allowed gives how many of n ready requests may go at now within the rate; 0: none yet.
func (s *scheduler) allowed(now time.Time, n int) int {
	if s.rate <= 0 {
		return n
	}
	budget := now.Sub(s.start).Seconds()*s.rate + 1 - float64(s.sent)
	if budget < 1 {
		return 0
	}
	return int(min(float64(n), budget))
}

// nextWake gives when the run has something to do next, beyond replies: the deadline of its
// oldest request (expiry, when it has one), the next host due, the next paced send.
func (s *scheduler) nextWake(now, expiry time.Time, hasExpiry bool) (time.Time, bool) {
	var w wake
	if hasExpiry {
		w.consider(expiry)
	}
	if s.due.len() > 0 {
		w.consider(s.due.min().at)
	}
	if s.ready.len() > 0 && s.rate > 0 {
		// The next request is due at its place in the cadence; at high rates the run wakes
		// once a rateTick and sends the few then due together.
		at := s.start.Add(time.Duration(min(float64(s.sent)/s.rate*float64(time.Second), maxWait)))
		if tick := now.Add(rateTick); at.Before(tick) {
			at = tick
		}
		w.consider(at)
	}
	return w.at, w.ok
}

// maxWait bounds the time to the next paced send, against overflow: a century.
const maxWait = float64(100 * 365 * 24 * time.Hour)

// wake is the earliest of the times considered.
type wake struct {
	at time.Time
	ok bool
}

func (w *wake) consider(t time.Time) {
	if !w.ok || t.Before(w.at) {
		w.at, w.ok = t, true
	}
}
