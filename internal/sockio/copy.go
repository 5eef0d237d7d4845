package sockio

import "github.com/icmpkit/icmpkit/transport"

// Copy copies r into reply, reusing reply's MPLS array when it has room (as
// transport.Transport allows Receive to), so that a caller receiving into the same Reply
// again and again allocates nothing for label stacks.
func Copy(reply, r *transport.Reply) {
	mpls := reply.MPLS
	*reply = *r
	switch {
	case len(r.MPLS) == 0:
		reply.MPLS = mpls[:0]
	case cap(mpls) >= len(r.MPLS):
		reply.MPLS = mpls[:len(r.MPLS)]
		copy(reply.MPLS, r.MPLS)
	}
}

// Take moves into dst, as Copy does, the replies that are in q now, without waiting, and
// returns how many it moved. A nil q holds none.
func Take(q <-chan transport.Reply, dst []transport.Reply) int {
	for n := range dst {
		select {
		case r := <-q:
			Copy(&dst[n], &r)
		default:
			return n
		}
	}
	return len(dst)
}
