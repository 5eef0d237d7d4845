package probe

import (
	"slices"
	"time"

	"github.com/icmpkit/icmpkit/transport"
)

// report hands probe p's outcome to OnProbe: its answer rep, or a timeout when rep is nil;
// limited attempts were lost to a rate limit before the answer.
func (tr *tracer) report(p *traceProbe, rep *transport.Reply, rtt time.Duration, limited int) {
	if tr.opts.OnProbe == nil {
		return
	}
	o := TraceOutcome{Distance: p.ttl, Round: p.round, RTT: rtt, TimedOut: rep == nil, RateLimited: limited}
	if rep != nil {
		o.Reply = *rep
	}
	tr.opts.OnProbe(o)
}

// tracePayload gives the caller's payload, padded for Paris mode, or nil for a generated one.
func tracePayload(o *TraceOptions) []byte {
	if o.Payload == nil || !o.Paris || len(o.Payload) >= 2 {
		return o.Payload
	}
	return append(slices.Clone(o.Payload), make([]byte, 2-len(o.Payload))...)
}
