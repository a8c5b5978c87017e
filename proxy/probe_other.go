//go:build !unix

package proxy

import "net"

// connAlive cannot peek without blocking here; a connection the upstream
// closed fails its next request instead (retried when it has no body).
func connAlive(net.Conn) bool { return true }
