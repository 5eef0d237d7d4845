package probe

import (
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// Defaults, icmplib's.
const (
	DefaultPingCount        = 4
	DefaultPingInterval     = time.Second
	DefaultMultipingCount   = 2
	DefaultTimeout          = 2 * time.Second
	DefaultPayloadSize      = 56
	DefaultTraceCount       = 3
	DefaultTraceInterval    = 50 * time.Millisecond
	DefaultMaxHops          = 30
	DefaultTraceWindow      = 16
	DefaultMultipingWindow  = 1 << 16
	DefaultMultipingReorder = 1 << 18
)

// The bounds of MultipingOptions.Rate, in requests a second.
const (
	// MinRate is the slowest rate: one request an hour.
	MinRate = 1.0 / 3600
	// MaxRate is the fastest: a hundred million requests a second, more than any host sends.
	MaxRate = 1e8
)

// PingOptions configures Ping. The zero value (or a nil *PingOptions) gives icmplib's defaults.
type PingOptions struct {
	// Count is the number of echo requests. Zero means 4; negative is invalid.
	Count int
	// Interval is the time from one request to the next, whether or not the first was
	// answered (iputils' cadence). Zero means 1 s; a negative value sends each request as soon
	// as the previous one is answered or timed out (ping-pong, as ping -f).
	Interval time.Duration
	// Timeout is how long each request waits for its reply. Zero means 2 s; negative is invalid.
	Timeout time.Duration
	// ID is the echo identifier, 1..65535. Zero lets the transport or icmpkit choose.
	// Transports with a system-chosen identifier (Linux ping sockets) ignore it.
	ID int
	// Payload is sent in every request when non-nil; a non-nil empty slice sends no data.
	Payload []byte
	// PayloadSize is the size of the generated payload when Payload is nil. Zero means 56.
	PayloadSize int
	// TTL is the time to live / hop limit, 1..255. Zero means 64.
	TTL int
	// TrafficClass is the DS field / TOS byte (IPv4) or traffic class (IPv6), 0..255.
	TrafficClass int
	// DropRTTs keeps the statistics but not the list of RTTs, so memory stays flat over any
	// number of requests. False keeps the list (Host.RTTs).
	DropRTTs bool
	// OnReply, when set, is called with each outcome as it happens: every reply, ICMP error,
	// duplicate and timeout. Calls come from one goroutine, in order; Ping waits for each.
	OnReply func(Outcome)
	// OnSend, when set, is called as each request goes out, with its number within the call
	// (the Seq of its outcomes, from 0) and the time it was sent. It is called from the
	// goroutine that calls OnReply, before any outcome of that request; Ping waits for it.
	// Together with OnReply it tells the whole run in order, as a program printing "no answer
	// yet" lines or timing the run from its first request to its last needs.
	OnSend func(seq int, sentAt time.Time)
	// OnWait, when set, is called once, the first time Ping has to wait: for a reply, or for
	// the time of its next request. A Ping whose replies are all in by then (one request on
	// loopback) never calls it. A program can defer to it what only a run that lasts needs,
	// such as installing its Ctrl-C handler.
	OnWait func()
}

// Outcome is what happened to one request.
type Outcome struct {
	// Seq is the request's number within its call, from 0.
	Seq int
	// Destination is the address probed.
	Destination netip.Addr
	// Reply is what came back; zero when TimedOut.
	Reply transport.Reply
	// RTT is the round-trip time of Reply.
	RTT time.Duration
	// TimedOut reports that nothing came back within the timeout.
	TimedOut bool
	// Duplicate reports a further echo reply to a request that was already answered.
	Duplicate bool
	// Index is the host's position among the targets of its call, from 0 (always 0 in Ping).
	Index int64
	// SendError, when not nil, reports that the request could not be sent: the system refused
	// it for its destination (a broadcast address without broadcast on, no route). Multiping
	// counts it in the Host's PacketsSent and SendErrors, and goes on with the other hosts;
	// Reply is zero. (A Ping whose request cannot be sent fails with the error instead.)
	SendError error
	// Host is the host's result as it stands once this outcome is counted: requests sent so
	// far, replies, statistics. It is valid only during the call and must not be modified;
	// a program that prints running figures, as fping's per-reply lines, reads them here.
	Host *result.Host
}

// MultipingOptions configures Multiping. The zero value (or nil) gives icmplib's defaults.
type MultipingOptions struct {
	// Count is the number of echo requests per host. Zero means 2; negative is invalid.
	Count int
	// Interval is the time from one request to the next to the same host. Zero means 1 s;
	// negative sends a host's next request as soon as its previous one is answered or timed out.
	Interval time.Duration
	// Timeout is how long each request waits for its reply. Zero means 2 s.
	Timeout time.Duration
	// ID, Payload, PayloadSize, TTL and TrafficClass are as in PingOptions.
	ID           int
	Payload      []byte
	PayloadSize  int
	TTL          int
	TrafficClass int
	// Rate caps the requests sent per second over all hosts. Zero means as fast as the
	// transport takes them. A rate below MinRate is invalid; one above MaxRate, beyond what
	// any host can send, means MaxRate.
	Rate float64
	// Window is the most hosts in progress at once. Zero means 65,536. A run whose hosts all
	// go on for as long as it lasts (a large Count) probes every one of them only with a
	// Window as large as the number of targets, and memory in proportion.
	Window int
	// DropRTTs is as in PingOptions.
	DropRTTs bool
	// AwaitDuplicates keeps each request open until its timeout, answered or not, so that
	// the copies of its reply that come until then are counted (Host.Duplicates, and OnReply
	// with Duplicate set): a host completes when its last request times out. False completes a
	// host at the answer to its last request, and copies of that answer are not seen. It has
	// no effect with a negative Interval.
	AwaitDuplicates bool
	// Unordered lets MultipingSeq yield each host as soon as it completes, rather than in
	// input order. Input order needs a reorder buffer (see Reorder).
	Unordered bool
	// Reorder bounds, in ordered streaming, how many hosts may have started beyond the oldest
	// unfinished one; it keeps memory bounded when early hosts are slow. Zero means 262,144,
	// or Window when that is larger, so that a window as large as the targets (every host
	// probed for as long as the run lasts) is never held back by the first host.
	Reorder int
	// OnProgress, when set, is called from the calling goroutine after hosts complete, with
	// the number done so far. It must be quick.
	OnProgress func(done int)
	// OnReply, when set, is called with each outcome as it happens, as in PingOptions: every
	// reply, ICMP error, duplicate and timeout of every host, in the order they happen, from
	// the goroutine that called Multiping (or iterates MultipingSeq); the run waits for each.
	// Outcome.Index tells the host.
	OnReply func(Outcome)
	// OnIdle, when set, is called from that same goroutine each time the run is about to
	// wait, for replies or for the time of its next request, with nothing left to do or to
	// hand on before then. A program streaming the hosts flushes its buffered output there:
	// its writes stay large while the run is busy, and nothing waits unseen when it is not.
	OnIdle func()
}

// TraceOptions configures Traceroute. The zero value (or nil) gives icmplib's defaults.
type TraceOptions struct {
	// Count is the number of probes per distance. Zero means 3.
	Count int
	// Interval is the time between two probes. Zero means 50 ms; negative means no wait.
	Interval time.Duration
	// Timeout is how long each probe waits. Zero means 2 s.
	Timeout time.Duration
	// ID, Payload, PayloadSize and TrafficClass are as in PingOptions. With Paris, a Payload
	// shorter than 2 bytes is padded with zeros to 2, the bytes that keep the checksum.
	ID           int
	Payload      []byte
	PayloadSize  int
	TrafficClass int
	// MinHops is the first distance probed. Zero means 1.
	MinHops int
	// MaxHops is the last distance probed. Zero means 30.
	MaxHops int
	// FastMode is icmplib's: once a distance has an answer, its remaining probes are not sent.
	FastMode bool
	// Window is the most probes in flight at once, across distances. Zero means 16; 1 traces
	// hop by hop as icmplib does.
	Window int
	// Paris keeps every probe's flow identity (identifier and checksum) the same, so that
	// per-flow load balancers keep the trace on one path.
	Paris bool
	// PathMTU discovers the path MTU as tracepath does: probes go with Don't Fragment set,
	// starting at 1500 bytes (IP header included), and shrink to the MTU that a Packet Too Big
	// or Fragmentation Needed answer reports; such an answer does not end the trace. Each Hop
	// then reports in MTU the size of the probes that reached it, and the Trace the path MTU.
	// PayloadSize is ignored.
	PathMTU bool
	// OnHop, when set, is called with each hop as soon as it is final, in ascending distance.
	OnHop func(result.Hop)
	// OnProbe, when set, is called with each probe's outcome as soon as it is known: its
	// answer, or its timeout. Calls come from the goroutine that called Traceroute, in the
	// order the outcomes happen, and every probe of a distance is reported before that
	// distance's OnHop. Probes forgotten because the trace ended nearer are not reported; a
	// probe answered before the trace's end was known may be, for a distance the result
	// leaves out.
	OnProbe func(TraceOutcome)

	// dupWait, when positive, keeps an answered probe registered this long after its answer,
	// so that further copies of that answer are counted in the hop's Duplicates; the trace
	// ends when the last wait is over. Ignored with PathMTU.
	dupWait time.Duration
}

// TraceOutcome is what happened to one probe of a traceroute.
type TraceOutcome struct {
	// Distance is the probe's TTL (hop limit).
	Distance int
	// Round is the probe's number among those of its distance, from 0 to Count-1 in the
	// order they were first sent.
	Round int
	// Reply is what came back; zero when TimedOut.
	Reply transport.Reply
	// RTT is the round-trip time of Reply.
	RTT time.Duration
	// TimedOut reports that nothing came back within the timeout.
	TimedOut bool
	// RateLimited counts the sends of this probe that went unanswered before the one that
	// was answered: a probe lost to a router's ICMP rate limit is sent again at the pace the
	// router can answer (see Traceroute), and its outcome is that of the send answered. It is
	// 0 for a probe answered at once and for one that timed out.
	RateLimited int
}

// Validate reports the first invalid option, as Ping would, with an error matching
// errors.ErrInvalidArgument; nil when the options are valid. Programs check options here,
// before any transport is opened.
func (o *PingOptions) Validate() error {
	if o == nil {
		return nil
	}
	_, err := pingConfig(o)
	return err
}

// Validate reports the first invalid option, as Multiping would (see PingOptions.Validate).
func (o *MultipingOptions) Validate() error {
	if o == nil {
		return nil
	}
	_, err := multipingConfig(o)
	return err
}

// Validate reports the first invalid option, as Traceroute would (see PingOptions.Validate);
// a payload is checked against the larger limit, IPv6's.
func (o *TraceOptions) Validate() error {
	if o == nil {
		return nil
	}
	_, err := newTracer(netip.IPv6Unspecified(), o)
	return err
}
