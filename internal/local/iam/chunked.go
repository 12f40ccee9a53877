package iam

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// streamingSigned is the X-Amz-Content-Sha256 of an S3 body sent in
// aws-chunked encoding with each chunk signed: chunk n's signature is
// the SigV4 signature of "AWS4-HMAC-SHA256-PAYLOAD", the request's time
// and scope, chunk n-1's signature (the seed signature of the
// Authorization header for the first), the hash of nothing and the hash
// of the chunk's data; a last chunk of no data ends the chain.
const streamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

// maxChunk is the largest chunk the verifier holds while it checks it
// (SDKs send 8 KiB to a few MiB).
const maxChunk = 64 << 20

// chunkError is a streaming body whose chunks S3 refuses: a chunk whose
// signature is not the chain's, or a body that is not aws-chunked.
type chunkError struct{ message string }

func (e *chunkError) Error() string { return e.message }

// chunkVerifier reads an aws-chunked body signed chunk by chunk and hands
// on its data, decoded, one chunk at a time once the chunk's signature is
// verified: a chunk whose signature is wrong ends the body with a
// *chunkError before any of its data is passed on (refuse, when not nil,
// decides: it returns nil to pass the chunk on all the same, as --iam
// warn does, after logging). A body that is not aws-chunked, or whose
// data is not the length it declared (want, -1 when unknown), ends with a
// *chunkError whatever refuse says.
type chunkVerifier struct {
	src     io.ReadCloser
	r       *bufio.Reader
	signer  *v4.StreamSigner
	at      time.Time
	refuse  func(err *chunkError) error
	want    int64
	got     int64
	pending []byte // verified data not yet read
	buf     bytes.Buffer
	chunks  int
	done    bool
	err     error
	// letThrough is set once refuse let a wrong signature through.
	letThrough bool
}

// newChunkVerifier verifies body's chunks with the credentials' secret,
// the request's region and time, and its seed signature (hex); want is the
// length of the data (X-Amz-Decoded-Content-Length), -1 when unknown.
func newChunkVerifier(body io.ReadCloser, creds aws.Credentials, region string, at time.Time, seed string, want int64, refuse func(*chunkError) error) (*chunkVerifier, error) {
	seedBytes, err := hex.DecodeString(seed)
	if err != nil {
		return nil, fmt.Errorf("the seed signature %q is not hex", seed)
	}
	return &chunkVerifier{
		src: body, r: bufio.NewReaderSize(body, 64<<10), at: at, refuse: refuse, want: want,
		signer: v4.NewStreamSigner(creds, "s3", region, seedBytes),
	}, nil
}

// Read implements io.Reader.
func (c *chunkVerifier) Read(p []byte) (int, error) {
	for len(c.pending) == 0 && !c.done && c.err == nil {
		c.err = c.next()
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return 0, io.EOF
}

// Close implements io.Closer.
func (c *chunkVerifier) Close() error { return c.src.Close() }

// next reads and verifies one chunk, its data into c.pending.
func (c *chunkVerifier) next() error {
	n := c.chunks + 1
	line, err := c.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return &chunkError{fmt.Sprintf("the header of chunk %d of the aws-chunked body is too long", n)}
	case errors.Is(err, io.EOF):
		return &chunkError{"the aws-chunked body ends before its last chunk (of no data)"}
	case err != nil:
		return err
	}
	size, sig, ok := parseChunkHeader(strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r"))
	if !ok || size > maxChunk {
		return &chunkError{fmt.Sprintf("chunk %d of the aws-chunked body has no <hex size>;chunk-signature=<signature> header of at most %d bytes of data", n, maxChunk)}
	}
	c.buf.Reset()
	if _, err := io.CopyN(&c.buf, c.r, size+2); err != nil {
		if errors.Is(err, io.EOF) {
			return &chunkError{fmt.Sprintf("the aws-chunked body ends inside chunk %d", n)}
		}
		return err
	}
	raw := c.buf.Bytes()
	data := raw[:size]
	if string(raw[size:]) != "\r\n" {
		return &chunkError{fmt.Sprintf("chunk %d of the aws-chunked body is not followed by CRLF", n)}
	}
	want, err := c.signer.GetSignature(context.Background(), nil, data, c.at)
	if err != nil {
		return err
	}
	c.chunks = n
	if !c.letThrough && !hmac.Equal([]byte(hex.EncodeToString(want)), []byte(sig)) {
		bad := &chunkError{fmt.Sprintf("The request signature we calculated does not match the signature you provided. Check your key and signing method. (the signature of chunk %d of the aws-chunked body)", n)}
		if c.refuse == nil || c.refuse(bad) != nil {
			return bad
		}
		// The chain is broken from here: the rest passes unchecked.
		c.letThrough = true
	}
	c.got += size
	if size == 0 {
		c.done = true
		if c.want >= 0 && c.got != c.want {
			return &chunkError{fmt.Sprintf("the aws-chunked body has %d bytes of data, not the %d its X-Amz-Decoded-Content-Length says", c.got, c.want)}
		}
	}
	c.pending = data
	return nil
}

// parseChunkHeader reads "<hex size>;chunk-signature=<signature>".
func parseChunkHeader(h string) (size int64, sig string, ok bool) {
	hexSize, ext, found := strings.Cut(h, ";")
	if !found {
		return 0, "", false
	}
	size, err := strconv.ParseInt(hexSize, 16, 64)
	if err != nil || size < 0 {
		return 0, "", false
	}
	sig, found = strings.CutPrefix(ext, "chunk-signature=")
	if !found || len(sig) != 64 {
		return 0, "", false
	}
	return size, sig, true
}
