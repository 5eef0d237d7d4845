package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws multiping's progress bar on one line of stderr, at most ten times a second.
type progress struct {
	w     io.Writer
	total uint64 // 0 when unknown
	shown bool
	last  time.Time
}

const (
	progressEvery = 100 * time.Millisecond
	progressWidth = 30
)

// update records that done hosts are complete and redraws when it is time.
func (p *progress) update(done int) {
	if p == nil {
		return
	}
	now := time.Now()
	if p.shown && now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	p.shown = true
	if p.total == 0 {
		fmt.Fprintf(p.w, "\r\033[K%d hosts done", done)
		return
	}
	frac := min(float64(done)/float64(p.total), 1)
	fill := int(frac * progressWidth)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d hosts (%.0f%%)", strings.Repeat("#", fill), strings.Repeat(".", progressWidth-fill), done, p.total, frac*100)
}

// clear removes the bar from the screen; the next update draws it again.
func (p *progress) clear() {
	if p == nil || !p.shown {
		return
	}
	io.WriteString(p.w, "\r\033[K")
	p.shown = false
}
