package iam

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// awsChunked is data in aws-chunked encoding, each chunk with its
// signature (sigs[i] of chunks[i]; the last chunk is the empty one).
func awsChunked(chunks []string, sigs []string) string {
	var b strings.Builder
	for i, c := range chunks {
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", len(c), sigs[i], c)
	}
	return b.String()
}

// TestChunkSignaturesOfAWSsExample verifies the example of AWS's
// "Signature Calculations for the Authorization Header: Transferring
// Payload in Multiple Chunks": a 66,560-byte object of "a" sent as a
// 64 KiB chunk, a 1 KiB chunk and the final empty one, signed with the
// documentation's example key on 2013-05-24 from the seed signature of its
// PUT /examplebucket/chunkObject.txt. The object's data passes, decoded;
// with one byte of the second chunk changed, the verifier passes on the
// first chunk's data and refuses the second.
func TestChunkSignaturesOfAWSsExample(t *testing.T) {
	t.Parallel()
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	at := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	const seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	chunks := []string{strings.Repeat("a", 65536), strings.Repeat("a", 1024), ""}
	sigs := []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	body := awsChunked(chunks, sigs)
	if len(body) != 66824 {
		t.Fatalf("the example's body is %d bytes, want its Content-Length 66824", len(body))
	}
	read := func(body string) (string, error) {
		v, err := newChunkVerifier(io.NopCloser(strings.NewReader(body)), creds, "us-east-1", at, seed, 66560, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(v)
		return string(got), err
	}
	if got, err := read(body); err != nil || got != strings.Repeat("a", 66560) {
		t.Errorf("the example: got %d bytes and %v, want its 66,560 bytes of data", len(got), err)
	}

	tampered := []string{chunks[0], strings.Repeat("a", 1023) + "b", ""}
	got, err := read(awsChunked(tampered, sigs))
	var ce *chunkError
	if !errors.As(err, &ce) || !strings.Contains(ce.message, "The request signature we calculated does not match the signature you provided") || !strings.Contains(ce.message, "chunk 2 ") {
		t.Errorf("a changed second chunk: got %v, want the second chunk's signature refused", err)
	}
	if got != chunks[0] {
		t.Errorf("a changed second chunk: got %d bytes passed on, want the first chunk's %d only", len(got), len(chunks[0]))
	}

	// --iam warn: the refusal is reported and the data passes all the same.
	var warned []string
	v, err := newChunkVerifier(io.NopCloser(strings.NewReader(awsChunked(tampered, sigs))), creds, "us-east-1", at, seed, 66560,
		func(e *chunkError) error { warned = append(warned, e.message); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(v); err != nil || string(b) != strings.Join(tampered, "") || len(warned) != 1 {
		t.Errorf("let through: got %d bytes, %v and warnings %q, want the %d bytes and one warning", len(b), err, warned, 66560)
	}
}

// chunkedBucket is the bucket of the streaming uploads' tests.
const chunkedBucket = "chunked-uploads"

// streamingPut is a PUT of data to key in chunkedBucket through the
// local AWS, signed as STREAMING-AWS4-HMAC-SHA256-PAYLOAD with creds by
// aws-sdk-go-v2's signer: the seed signature over the headers, and each
// 8 KiB chunk's signature from its StreamSigner; tamper changes a chunk's
// data after it is signed.
func streamingPut(t *testing.T, l *localAWS, creds aws.Credentials, key, data string, tamper func(i int, chunk string) string) *http.Response {
	t.Helper()
	var chunks []string
	for rest := data; rest != ""; {
		n := min(len(rest), 8<<10)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	chunks = append(chunks, "")
	length := 0
	for _, c := range chunks {
		length += len(fmt.Sprintf("%x;chunk-signature=%s\r\n\r\n", len(c), strings.Repeat("0", 64))) + len(c)
	}
	r, err := http.NewRequest(http.MethodPut, l.url+"/"+chunkedBucket+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = int64(length)
	r.Header.Set("X-Amz-Content-Sha256", streamingSigned)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
	now := time.Now().UTC()
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, r, streamingSigned, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	_, seed, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	seedBytes, err := hex.DecodeString(seed)
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewStreamSigner(creds, "s3", "us-east-1", seedBytes)
	sigs := make([]string, len(chunks))
	for i, c := range chunks {
		sig, err := signer.GetSignature(context.Background(), nil, []byte(c), now)
		if err != nil {
			t.Fatal(err)
		}
		sigs[i] = hex.EncodeToString(sig)
		if tamper != nil {
			chunks[i] = tamper(i, c)
		}
	}
	r.Body = io.NopCloser(strings.NewReader(awsChunked(chunks, sigs)))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestStreamingChunksAreVerifiedOneByOne: through the IAM proxy, an S3
// upload whose chunks are signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) is
// stored when every chunk's signature follows from the seed's; one chunk
// changed after signing is refused with S3's SignatureDoesNotMatch, and
// nothing is stored.
func TestStreamingChunksAreVerifiedOneByOne(t *testing.T) {
	l := setupLocalAWS(t, Enforce)
	l.auth.PutRole(&Role{ARN: l.role, Name: "app-fn", ID: "AROAAPPFN",
		Trust:  mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"app": mustPolicy(t, `{"Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::`+chunkedBucket+`/*"}}`)}})
	root := s3.NewFromConfig(l.root, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(chunkedBucket)}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	_, s := l.as(t)
	creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}
	data := strings.Repeat("stream of chunks ", 1500) // 25,500 bytes: four chunks and the last
	get := func(key string) (string, error) {
		out, err := root.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(chunkedBucket), Key: aws.String(key)})
		if err != nil {
			return "", err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return string(b), err
	}

	resp := streamingPut(t, l, creds, "streamed/good", data, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed chunks: got %d %s, want 200", resp.StatusCode, b)
	}
	if got, err := get("streamed/good"); err != nil || got != data {
		t.Errorf("signed chunks: got the object %d bytes %v, want the %d bytes uploaded", len(got), err, len(data))
	}

	resp = streamingPut(t, l, creds, "streamed/tampered", data, func(i int, chunk string) string {
		if i == 2 {
			return strings.Replace(chunk, "stream", "STREAM", 1)
		}
		return chunk
	})
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(string(b), "chunk 3 ") {
		t.Errorf("a chunk changed after signing: got %d %s, want 403 SignatureDoesNotMatch of chunk 3", resp.StatusCode, b)
	}
	if _, err := get("streamed/tampered"); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("a chunk changed after signing: got the object stored (%v), want NoSuchKey", err)
	}
	if strings.Contains(l.log.String(), s.SecretAccessKey) {
		t.Errorf("the log has the session's secret: %s", l.log.String())
	}
}
