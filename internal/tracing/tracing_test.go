package tracing

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestAWSAddsMiddleware(t *testing.T) {
	var cfg aws.Config
	AWS(&cfg)
	if len(cfg.APIOptions) == 0 {
		t.Fatal("AWS added no API options to the configuration")
	}
}

// TestHTTPClientWithoutASegment checks that tracing is harmless where there
// is no segment (outside Lambda): requests go through and nothing fails.
func TestHTTPClientWithoutASegment(t *testing.T) {
	if got := os.Getenv("AWS_XRAY_CONTEXT_MISSING"); got == "" {
		t.Fatal("AWS_XRAY_CONTEXT_MISSING is not set; the SDK would log an error per call")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	c := HTTPClient(&http.Client{})
	if c.Transport == nil {
		t.Fatal("HTTPClient did not wrap the transport")
	}
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot {
		t.Errorf("got status %d, want %d", res.StatusCode, http.StatusTeapot)
	}
}
