package main

import (
	"encoding/binary"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/icmpkit/icmpkit/internal/wire"
)

func run(n int, start netip.Addr, dur time.Duration) (sent, recv int64, err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err != nil {
		return 0, 0, os.NewSyscallError("socket", err)
	}
	defer syscall.Close(fd)
	// A receive timeout lets the receiver notice the end.
	tv := syscall.Timeval{Usec: 200000}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	id := uint16(os.Getpid())
	addrs := make([]syscall.SockaddrInet4, n)
	a := start
	for i := range addrs {
		addrs[i].Addr = a.As4()
		a = a.Next()
	}
	var received atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 1500)
		for {
			m, _, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil {
				select {
				case <-done:
					return
				default:
					continue
				}
			}
			ihl := int(buf[0]&0x0f) * 4
			if m >= ihl+8 && buf[ihl] == 0 && binary.BigEndian.Uint16(buf[ihl+4:]) == id {
				received.Add(1)
			}
		}
	}()
	pkt := make([]byte, 8+56)
	pkt[0] = 8
	binary.BigEndian.PutUint16(pkt[4:], id)
	// Send the requests due by now (n a second, evenly spread), then sleep until the next is
	// due, or a millisecond when many are: at high rates the sends go in small batches.
	begin := time.Now()
	var seq uint16
	next := 0
	for {
		el := time.Since(begin)
		if el >= dur {
			break
		}
		due := int64(float64(n) * el.Seconds())
		for sent < due {
			seq++
			binary.BigEndian.PutUint16(pkt[6:], seq)
			pkt[2], pkt[3] = 0, 0
			binary.BigEndian.PutUint16(pkt[2:], wire.Checksum(pkt))
			// A failed send counts as sent and lost, as a prober counts it.
			syscall.Sendto(fd, pkt, 0, &addrs[next])
			sent++
			next++
			if next == n {
				next = 0
			}
		}
		nextDue := time.Duration(float64(sent+1) / float64(n) * float64(time.Second))
		time.Sleep(max(nextDue-time.Since(begin), time.Millisecond))
	}
	time.Sleep(300 * time.Millisecond)
	close(done)
	<-stopped
	return sent, received.Load(), nil
}
