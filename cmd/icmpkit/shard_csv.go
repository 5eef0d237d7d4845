package main

import (
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit/result"
)

// csvHeader names the columns of multiping's --csv output: the fields of the JSON Host object
// but its list of RTTs, times in milliseconds.
const csvHeader = "address,is_alive,packets_sent,packets_received,packet_loss,min_rtt,avg_rtt,max_rtt,stddev,jitter,duplicates,errors\n"

// appendCSV appends h's line of --csv output.
func appendCSV(b []byte, h *result.Host) []byte {
	b = h.Address.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendBool(b, h.IsAlive())
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, ',')
	loss := 0.0
	if h.PacketsSent > 0 {
		// lost/sent, so that 1 lost of 10 is 0.1 exactly as printed.
		loss = float64(h.PacketsSent-h.PacketsReceived()) / float64(h.PacketsSent)
	}
	b = strconv.AppendFloat(b, loss, 'f', -1, 64)
	for _, d := range []time.Duration{h.MinRTT(), h.AvgRTT(), h.MaxRTT(), h.StdDev(), h.Jitter()} {
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', -1, 64)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(h.Duplicates), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(h.Errors), 10)
	return append(b, '\n')
}
