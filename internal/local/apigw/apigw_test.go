package apigw

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestReadBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		size    int
		wantErr error
	}{
		{name: "empty", size: 0},
		{name: "at the limit", size: MaxBodyBytes},
		{name: "over the limit", size: MaxBodyBytes + 1, wantErr: ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", tt.size)))
			body, err := ReadBody(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && len(body) != tt.size {
				t.Errorf("got %d bytes, want %d", len(body), tt.size)
			}
		})
	}
}

// lambdaFunc is an Invoker that is a function.
type lambdaFunc func(ctx context.Context, in *awslambda.InvokeInput) (*awslambda.InvokeOutput, error)

func (f lambdaFunc) Invoke(ctx context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	return f(ctx, in)
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	lambdaDown := errors.New("connection refused")
	tests := []struct {
		name    string
		l       lambdaFunc
		want    string
		wantErr func(error) bool
	}{
		{
			name: "answer",
			l: func(_ context.Context, in *awslambda.InvokeInput) (*awslambda.InvokeOutput, error) {
				return &awslambda.InvokeOutput{Payload: []byte(aws.ToString(in.FunctionName) + ":" + string(in.Payload))}, nil
			},
			want:    "fn:{}",
			wantErr: func(err error) bool { return err == nil },
		},
		{
			name: "function error",
			l: func(context.Context, *awslambda.InvokeInput) (*awslambda.InvokeOutput, error) {
				return &awslambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"boom"}`)}, nil
			},
			wantErr: func(err error) bool {
				var fe *FunctionError
				return errors.As(err, &fe) && fe.Type == "Unhandled" && string(fe.Payload) == `{"errorMessage":"boom"}`
			},
		},
		{
			name: "timed out",
			l: func(ctx context.Context, _ *awslambda.InvokeInput) (*awslambda.InvokeOutput, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
			wantErr: func(err error) bool { return errors.Is(err, ErrTimedOut) },
		},
		{
			name: "lambda fails",
			l: func(context.Context, *awslambda.InvokeInput) (*awslambda.InvokeOutput, error) {
				return nil, lambdaDown
			},
			wantErr: func(err error) bool { return errors.Is(err, lambdaDown) && !errors.Is(err, ErrTimedOut) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := time.Minute
			if tt.name == "timed out" {
				timeout = time.Millisecond
			}
			got, err := Invoke(context.Background(), tt.l, "fn", []byte("{}"), timeout)
			if !tt.wantErr(err) {
				t.Fatalf("got error %v, want otherwise", err)
			}
			if string(got) != tt.want {
				t.Errorf("got answer %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListenServesOnLoopback(t *testing.T) {
	t.Parallel()
	srv, url, err := Listen("", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("got URL %s, want http://127.0.0.1:<port>", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "hello" {
		t.Errorf("got %q, want hello", b)
	}
}

func TestRequestIDHasAPIGatewaysShape(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{14}=$`)
	a, b := RequestID(), RequestID()
	if !shape.MatchString(a) {
		t.Errorf("got %q, want 14 URL-safe base64 characters and =", a)
	}
	if a == b {
		t.Errorf("got %q twice, want a new ID each time", a)
	}
}
