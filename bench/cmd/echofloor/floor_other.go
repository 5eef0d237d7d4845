//go:build !linux

package main

import (
	"errors"
	"net/netip"
	"time"
)

func run(int, netip.Addr, time.Duration) (int64, int64, error) {
	return 0, 0, errors.New("needs Linux raw sockets")
}
