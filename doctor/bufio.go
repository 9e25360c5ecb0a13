package doctor

import (
	"bufio"
	"net"
)

// bufioReader reads one proxy answer. The tunnel's first TLS bytes only come
// after our ClientHello, so nothing the handshake needs is left in the buffer.
func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 1) }
