//go:build !linux

package proxy

import "net"

// newRawSocket returns c: raw reads and writes (rawsock_linux.go) are made
// on Linux only, where the proxy is measured.
func newRawSocket(c net.Conn) net.Conn { return c }
