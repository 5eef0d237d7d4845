//go:build !unix

package main

// stdoutClosedAtStart reports whether the program was started with its standard output
// closed; only Unix systems tell.
func stdoutClosedAtStart() bool { return false }
