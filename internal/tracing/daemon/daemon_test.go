package daemon

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAddress(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{name: "unset", in: "", want: DefaultAddress},
		{name: "host and port", in: "169.254.79.129:2000", want: "169.254.79.129:2000"},
		{name: "both protocols", in: "tcp:127.0.0.1:2000 udp:127.0.0.2:2001", want: "127.0.0.2:2001"},
		{name: "TCP only", in: "tcp:127.0.0.1:2000", want: DefaultAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Address(tt.in); got != tt.want {
				t.Errorf("Address(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	at := time.Unix(0x5f84c7a0, 0)
	id, trace := NewID(), NewTraceID(at)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) || id == NewID() {
		t.Errorf("got ID %q, want 16 hex digits, different each time", id)
	}
	if !regexp.MustCompile(`^1-5f84c7a0-[0-9a-f]{24}$`).MatchString(trace) || trace == NewTraceID(at) {
		t.Errorf("got trace ID %q, want 1-5f84c7a0-<24 hex digits>, different each time", trace)
	}
}

func TestListenerKeepsDocumentsInTheDaemonsFormat(t *testing.T) {
	t.Parallel()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw, err := net.Dial("udp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Datagrams from one socket arrive in order: once the good one is in,
	// the two before it were read.
	raw.Write([]byte(`{"name":"no header","id":"1","trace_id":"x"}`))
	raw.Write([]byte(Header + `not JSON`))
	raw.Write([]byte(Header + `{"name":"good","id":"2","trace_id":"x"}`))
	c := NewClient(l.Addr())
	defer c.Close()
	want := &Document{Name: "fn", ID: NewID(), TraceID: NewTraceID(time.Now()), StartTime: 1, EndTime: 2, AWS: &AWS{Operation: "Invoke"}}
	c.Send(want)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docs, err := l.Wait(ctx, func(d []Document) bool { return len(d) == 2 })
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Document{}
	for _, d := range docs {
		byName[d.Name] = d
	}
	if got := byName["fn"]; got.ID != want.ID || got.AWS == nil || got.AWS.Operation != "Invoke" || got.EndTime != 2 {
		t.Errorf("got %+v, want the document the client sent", docs)
	}
	if _, ok := byName["good"]; !ok {
		t.Errorf("got %+v, want the good document too", docs)
	}
	if got := l.Rejected(); got != 2 {
		t.Errorf("got %d rejected datagrams, want 2", got)
	}
}

func TestWriteTree(t *testing.T) {
	t.Parallel()
	docs := []Document{
		{Name: "SFN", ID: "c", TraceID: "T", ParentID: "a", Type: "subsegment", StartTime: 100.002, EndTime: 100.057, AWS: &AWS{Operation: "StartExecution"}, HTTP: &HTTP{Response: &Response{Status: 200}}},
		{Name: "webhook", ID: "a", TraceID: "T", StartTime: 100, EndTime: 100.058},
		{Name: "Secrets Manager", ID: "b", TraceID: "T", ParentID: "a", Type: "subsegment", StartTime: 100.001, EndTime: 100.002, AWS: &AWS{Operation: "GetSecretValue"}, HTTP: &HTTP{Response: &Response{Status: 400}}, Error: true},
		{Name: "machine", ID: "d", TraceID: "T", ParentID: "c", StartTime: 100.005, EndTime: 110},
		{Name: "bitbucket.org", ID: "e", TraceID: "U", ParentID: "elsewhere", Type: "subsegment", StartTime: 200, EndTime: 200.5, HTTP: &HTTP{Request: &Request{Method: "GET", URL: "https://bitbucket.org/a/b"}}, Fault: true},
	}
	want := `trace T
webhook  +0ms 58ms
  Secrets Manager GetSecretValue 400 error  +1ms 1ms
  SFN StartExecution 200  +2ms 55ms
    machine  +5ms 9995ms
trace U
bitbucket.org GET https://bitbucket.org/a/b fault  +0ms 500ms
`
	var b strings.Builder
	if err := WriteTree(&b, docs); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
