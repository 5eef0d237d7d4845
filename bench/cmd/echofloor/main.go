// Command echofloor is the syscall floor of bench/exporter.sh: the least a program can spend
// to send N echo requests a second, evenly spread, to N loopback addresses and take their
// replies, with one raw socket, one sendto(2) per request and one recvfrom(2) per packet. It
// prints one line of key=value figures. Linux only.
//
//	echofloor -n 100000 -base 127.1.0.0 -for 25s
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "addresses, each sent one request a second")
	base := flag.String("base", "127.1.0.0", "first address; the others follow it")
	dur := flag.Duration("for", 25*time.Second, "how long to run")
	flag.Parse()
	start, err := netip.ParseAddr(*base)
	if err != nil || !start.Is4() || *n < 1 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "echofloor: want -n >= 1, an IPv4 -base and a positive -for")
		os.Exit(2)
	}
	sent, recv, err := run(*n, start, *dur)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echofloor:", err)
		os.Exit(1)
	}
	fmt.Printf("sent=%d received=%d seconds=%.1f\n", sent, recv, dur.Seconds())
}
