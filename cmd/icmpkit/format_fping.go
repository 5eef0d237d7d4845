package main

import (
	"io"
	"strconv"

	"github.com/icmpkit/icmpkit/result"
)

// writeHostLine writes fping -q's line for a host.
func writeHostLine(w io.Writer, h *result.Host) {
	loss := 0
	if h.PacketsSent > 0 {
		loss = (h.PacketsSent - h.PacketsReceived()) * 100 / h.PacketsSent
	}
	// Built by appending into a buffer on the stack: a multiping writes a line a host, and
	// hundreds of thousands of them go through here.
	var buf [160]byte
	b := h.Address.AppendTo(buf[:0])
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
