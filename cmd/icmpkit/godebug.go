// A run of the command is short, or spends its time waiting on the network: following changes
// of the CPU limit with GOMAXPROCS while it runs gains it nothing, and the runtime's goroutine
// that does so costs a one-packet ping about 3% of its time, in a goroutine and a thread woken
// at start-up.

//go:debug updatemaxprocs=0

package main
