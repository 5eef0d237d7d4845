package leakcheck

import (
	"os"
	"strconv"
)

// openFDs lists the process's open file descriptors and their targets from /proc/self/fd,
// leaving out the one it reads the directory through.
func openFDs() map[int]string {
	const dir = "/proc/self/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd"
	fds := make(map[int]string, len(ents))
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			// Closed while listing: the directory's own descriptor.
			continue
		}
		if target == self {
			continue
		}
		fds[fd] = target
	}
	return fds
}
