package probe

import (
	"context"
	"time"
)

// A call is what drive runs: a run (Ping, Multiping) or a tracer. Each turn of the loop takes
// the replies delivered, then lets the call do what is due (expire, send, hand on), then
// waits for more replies or the next time the call has something to do.
type call interface {
	// takeArrivals matches the replies the engine's reader delivered.
	takeArrivals()
	// step does what is due now. done: the call is over. again: there is more to do before
	// waiting (the call goes round again, having taken the replies that came meanwhile).
	step(ctx context.Context) (done, again bool, err error)
	// expecting reports whether requests are out that replies may answer.
	expecting() bool
	// idle is called before the call waits, each time.
	idle()
	// nextWake gives the next time the call has something to do beyond replies.
	nextWake(now time.Time) (time.Time, bool)
}

// drive runs c over e until it is done, ctx ends or the engine fails; m is the mailbox where
// the engine leaves c's replies. The engine's reader starts the first time c waits with
// requests out: until then c polls the transport itself, and a call whose replies are all in
// by then (a ping on loopback) never starts it.
func drive(ctx context.Context, e *engine, m *mailbox, c call) error {
	var timer *time.Timer // made when the call first waits for a time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var polls pollBuffers
	polledFirst := false
	for {
		c.takeArrivals()
		done, again, err := c.step(ctx)
		if err != nil && ctx.Err() != nil {
			// A send that failed as ctx ended, or after: the call ends because ctx did.
			return ctx.Err()
		}
		if err != nil || done {
			return err
		}
		if c.expecting() && !e.listening.Load() {
			// Requests are out and nobody reads the transport yet. The replies that came during
			// the sends are taken once; whatever is still outstanding then has the engine's
			// reader started, so that replies are taken as they come while the call goes on.
			if !polledFirst {
				polledFirst = true
				if polls.poll(e) {
					continue
				}
			}
			e.listen()
		}
		if again {
			continue
		}
		if c.expecting() && polls.poll(e) {
			continue // replies that came while the call was busy: take them before waiting
		}
		c.idle()
		var fire <-chan time.Time // nil: no time to wake at
		if wake, ok := c.nextWake(time.Now()); ok {
			if timer == nil {
				timer = time.NewTimer(time.Until(wake))
			} else {
				timer.Reset(time.Until(wake))
			}
			fire = timer.C
		}
		select {
		case <-m.notify:
		case <-fire:
		case <-ctx.Done():
			c.takeArrivals()
			return ctx.Err()
		case <-e.dead:
			c.takeArrivals()
			return e.failure()
		}
	}
}
