package main

import (
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit/result"
)

// ms gives d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// lossPercent formats a packet loss fraction as a percentage with up to four significant
// digits: 0, 25, 33.33, 100.
func lossPercent(h *result.Host) string {
	return strconv.FormatFloat(h.PacketLoss()*100, 'g', 4, 64)
}
