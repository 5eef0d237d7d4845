package main

import (
	"bufio"
	"strconv"

	"github.com/icmpkit/icmpkit/result"
)

// hostLineMax bounds the length of a host's line: an IPv6 address with a zone, the counts and
// three RTTs.
const hostLineMax = 256

// writeHostLine writes fping -q's line for a host.
func writeHostLine(w *bufio.Writer, h *result.Host) {
	loss := 0
	if h.PacketsSent > 0 {
		loss = (h.PacketsSent - h.PacketsReceived()) * 100 / h.PacketsSent
	}
	// Built by appending straight into the writer's buffer, which allocates nothing: a
	// multiping writes a line a host, and hundreds of thousands of them go through here.
	if w.Available() < hostLineMax {
		w.Flush()
	}
	b := h.Address.AppendTo(w.AvailableBuffer())
	b = append(b, " : xmt/rcv/%loss = "...)
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(loss), 10)
	b = append(b, '%')
	if h.PacketsReceived() > 0 {
		b = append(b, ", min/avg/max = "...)
		b = strconv.AppendFloat(b, ms(h.MinRTT()), 'f', 3, 64)
		b = append(b, '/')
		b = strconv.AppendFloat(b, ms(h.AvgRTT()), 'f', 3, 64)
		b = append(b, '/')
		b = strconv.AppendFloat(b, ms(h.MaxRTT()), 'f', 3, 64)
	}
	b = append(b, '\n')
	w.Write(b)
}
