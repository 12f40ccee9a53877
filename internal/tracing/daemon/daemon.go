// Package daemon speaks the X-Ray daemon's wire format: segment documents
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html)
// sent as UDP datagrams, each a JSON header line
// {"format":"json","version":1} followed by one document.
//
// It is what package tracing emits through, what the local Lambda service
// of `stackflow local` emits its function segments through, and, with
// Listener, a stand-in daemon that keeps what it receives (for tests, and
// for showing a local run's trace with WriteTree). It depends on the
// standard library only, so a handler that traces stays small.
package daemon

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// EnvAddress is the variable Lambda sets to the daemon's address.
const EnvAddress = "AWS_XRAY_DAEMON_ADDRESS"

// DefaultAddress is where the daemon listens when EnvAddress is not set.
const DefaultAddress = "127.0.0.1:2000"

// Header precedes every document in a datagram.
const Header = `{"format":"json","version":1}` + "\n"

// Document is a segment or subsegment document, with the fields stackflow
// records. It never holds headers, bodies, tokens or signatures.
type Document struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	TraceID string `json:"trace_id"`
	// ParentID is the segment or subsegment this one belongs to.
	ParentID string `json:"parent_id,omitempty"`
	// Type is "subsegment" for a subsegment sent on its own; empty for a
	// segment.
	Type      string  `json:"type,omitempty"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	// Origin is the AWS resource type of a segment
	// ("AWS::Lambda::Function").
	Origin      string `json:"origin,omitempty"`
	ResourceARN string `json:"resource_arn,omitempty"`
	// Namespace is "aws" for an AWS call, "remote" for another HTTP call.
	Namespace string `json:"namespace,omitempty"`
	// Error (4xx), Throttle (429) and Fault (5xx, or no answer).
	Error    bool   `json:"error,omitempty"`
	Throttle bool   `json:"throttle,omitempty"`
	Fault    bool   `json:"fault,omitempty"`
	Cause    *Cause `json:"cause,omitempty"`
	HTTP     *HTTP  `json:"http,omitempty"`
	AWS      *AWS   `json:"aws,omitempty"`
}

// Cause names what went wrong.
type Cause struct {
	Exceptions []Exception `json:"exceptions"`
}

// Exception is an error by its type (an AWS error code, or a kind of
// failure); never a message that could quote a request or an answer.
type Exception struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// HTTP is the request a subsegment made and the answer it got.
type HTTP struct {
	Request  *Request  `json:"request,omitempty"`
	Response *Response `json:"response,omitempty"`
}

// Request is a request's method and URL (scheme, host and path only).
type Request struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
}

// Response is an answer's status.
type Response struct {
	Status int `json:"status,omitempty"`
}

// AWS is an AWS call's operation, region and request ID.
type AWS struct {
	Operation string `json:"operation,omitempty"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Address returns the UDP address in v, a value of AWS_XRAY_DAEMON_ADDRESS:
// "host:port", or "tcp:host:port udp:host:port"; empty means
// DefaultAddress.
func Address(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultAddress
	}
	for _, f := range strings.Fields(v) {
		if a, ok := strings.CutPrefix(f, "udp:"); ok {
			return a
		}
	}
	f := strings.Fields(v)[0]
	if strings.HasPrefix(f, "tcp:") {
		return DefaultAddress
	}
	return f
}

// NewID returns a new segment ID: 16 hexadecimal digits.
func NewID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], rand.Uint64()|1) // never all zeros
	return hex.EncodeToString(b[:])
}

// NewTraceID returns a new trace ID started at t:
// 1-<8 hex digits of Unix seconds>-<24 random hex digits>.
func NewTraceID(t time.Time) string {
	return fmt.Sprintf("1-%08x-%016x%08x", uint32(t.Unix()), rand.Uint64(), rand.Uint32())
}

// Seconds is t as X-Ray times are written: seconds since the epoch.
func Seconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

// Client sends documents to one daemon. Sending is best effort and silent:
// with no daemon listening the datagrams are lost and nothing fails. Its
// methods are safe for concurrent use.
type Client struct {
	addr string

	mu   sync.Mutex
	conn net.Conn
}

// NewClient returns a client of the daemon at addr ("host:port"). It opens
// its socket on first use.
func NewClient(addr string) *Client {
	return &Client{addr: addr}
}

// Addr is the daemon's address.
func (c *Client) Addr() string { return c.addr }

// Send sends each document in its own datagram.
func (c *Client) Send(docs ...*Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := net.Dial("udp", c.addr)
		if err != nil {
			return
		}
		c.conn = conn
	}
	for _, d := range docs {
		body, err := json.Marshal(d)
		if err != nil {
			continue
		}
		// A refused earlier datagram shows up as an error of a later
		// write; neither matters.
		_, _ = c.conn.Write(append([]byte(Header), body...))
	}
}

// Close closes the client's socket.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}
