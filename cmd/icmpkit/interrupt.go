package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
)

// An interrupter catches Ctrl-C (SIGINT) for a run: the first one cancels the run's context,
// so that the run winds down and prints what it has; a second one ends the program at once.
//
// os/signal starts two threads for its handler and waits for one of them, which costs about
// as much as the rest of a one-packet ping. So the handler is installed by a goroutine of its
// own while the program opens its sockets, and the subcommand waits for it only before its
// first line of output: a Ctrl-C after that line always gets the summary. A run that may end
// within moments (a ping of one request) starts installing it only when the run first has to
// wait (PingOptions.OnWait); until then, for as long as sending the request and taking a reply
// already there take, Ctrl-C ends it at once, as it does during any program's start-up.
type interrupter struct {
	cancel    context.CancelFunc
	once      sync.Once
	started   bool          // set by start
	installed chan struct{} // closed once the handler is in place
}

// newInterrupter gives the context that the interrupter cancels on Ctrl-C. Call start.
func newInterrupter() (*interrupter, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	return &interrupter{cancel: cancel, installed: make(chan struct{})}, ctx
}

// start begins installing the handler. Later calls do nothing.
func (in *interrupter) start() {
	if in == nil {
		return
	}
	in.once.Do(func() {
		in.started = true
		go in.install()
	})
}

// install puts the handler in place and then waits for Ctrl-C.
func (in *interrupter) install() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	close(in.installed)
	<-c
	in.cancel()
	signal.Stop(c)
}

// wait returns once the handler that start began installing is in place. Call it after
// start, from the same goroutine.
func (in *interrupter) wait() {
	if in != nil && in.started {
		<-in.installed
	}
}
