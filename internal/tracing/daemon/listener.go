package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Listener is a stand-in X-Ray daemon: it receives documents on a UDP port
// and keeps them in the order they came. A datagram without the header or
// whose document is not JSON is counted as rejected.
type Listener struct {
	conn *net.UDPConn
	done chan struct{}

	mu       sync.Mutex
	docs     []Document
	rejected int
	changed  chan struct{} // closed and replaced on every datagram
}

// Listen starts a listener on addr ("127.0.0.1:0" for any free port).
func Listen(addr string) (*Listener, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for X-Ray documents on %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("listen for X-Ray documents on %s: %w", addr, err)
	}
	// Runs emit in bursts; a large buffer keeps a slow reader from
	// losing datagrams.
	_ = conn.SetReadBuffer(4 << 20)
	l := &Listener{conn: conn, done: make(chan struct{}), changed: make(chan struct{})}
	go l.read()
	return l, nil
}

// Addr is the listener's address, for AWS_XRAY_DAEMON_ADDRESS.
func (l *Listener) Addr() string { return l.conn.LocalAddr().String() }

func (l *Listener) read() {
	defer close(l.done)
	buf := make([]byte, 65536)
	for {
		n, _, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		doc, ok := parse(buf[:n])
		l.mu.Lock()
		if ok {
			l.docs = append(l.docs, doc)
		} else {
			l.rejected++
		}
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
}

func parse(b []byte) (Document, bool) {
	body, ok := bytes.CutPrefix(b, []byte(Header))
	if !ok {
		return Document{}, false
	}
	var d Document
	if err := json.Unmarshal(body, &d); err != nil {
		return Document{}, false
	}
	return d, true
}

// Documents returns the documents received so far.
func (l *Listener) Documents() []Document {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Document(nil), l.docs...)
}

// Rejected is how many datagrams were not documents in the daemon's format.
func (l *Listener) Rejected() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rejected
}

// Wait returns the documents received so far once done reports true of
// them, or an error when ctx ends first.
func (l *Listener) Wait(ctx context.Context, done func([]Document) bool) ([]Document, error) {
	for {
		l.mu.Lock()
		docs := append([]Document(nil), l.docs...)
		changed := l.changed
		l.mu.Unlock()
		if done(docs) {
			return docs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return docs, fmt.Errorf("wait for X-Ray documents: %w (%d received)", ctx.Err(), len(docs))
		}
	}
}

// Close stops the listener.
func (l *Listener) Close() error {
	err := l.conn.Close()
	<-l.done
	return err
}
