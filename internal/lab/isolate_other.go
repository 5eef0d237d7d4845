//go:build !linux

package lab

import "github.com/icmpkit/icmpkit/errors"

// Without Linux network namespaces there is nothing to isolate in, and no lab to build.

func isolate() error { return nil }

func netnsID() (string, error) { return "", errors.NotSupported("lab: network namespaces") }
