package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// canonicalSignature computes the SigV4 signature of r from the request
// itself, as AWS does when it verifies one: the canonical request is built
// from exactly the headers the request lists in its SignedHeaders (names,
// lower-cased), whatever they are. aws-sdk-go-v2's signer, which
// verifySignature uses otherwise, decides itself which headers it signs
// and never signs some (signerIgnores) that other SDKs do sign (the AWS
// SDK for JavaScript signs User-Agent); this is the verification of those
// requests. escapePath is false for S3, whose canonical URI is the path as
// sent; other services' is the sent path escaped once more. A presigned
// request's query has its X-Amz-Signature left out.
func canonicalSignature(r *http.Request, names []string, payloadHash, service, region string, signedAt time.Time, secret string, presigned, escapePath bool) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if escapePath {
		path = escapeURIPath(path)
	}
	q := r.URL.Query()
	if presigned {
		q.Del("X-Amz-Signature")
	}
	for k := range q {
		slices.Sort(q[k])
	}
	query := strings.ReplaceAll(q.Encode(), "+", "%20")

	var headers strings.Builder
	for _, n := range names {
		headers.WriteString(n)
		headers.WriteByte(':')
		headers.WriteString(canonicalHeaderValue(r, n))
		headers.WriteByte('\n')
	}
	canonical := strings.Join([]string{r.Method, path, query, headers.String(), strings.Join(names, ";"), payloadHash}, "\n")

	day := signedAt.UTC().Format("20060102")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + signedAt.UTC().Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(sum[:])

	key := hmacSHA256([]byte("AWS4"+secret), day)
	for _, part := range []string{region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// canonicalHeaderValue is header n of r as a canonical request has it:
// its values trimmed, with runs of spaces made one, joined by commas. Go's
// server keeps Host and Transfer-Encoding out of r.Header, and a
// Content-Length it parsed in r.ContentLength.
func canonicalHeaderValue(r *http.Request, n string) string {
	var values []string
	switch n {
	case "host":
		values = []string{r.Host}
	case "transfer-encoding":
		values = r.TransferEncoding
	default:
		values = r.Header.Values(n)
		if len(values) == 0 && n == "content-length" && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// escapeURIPath escapes an already escaped path once more, segment by
// segment, as SigV4 wants the canonical URI of services other than S3:
// every byte but the unreserved ones (A-Z a-z 0-9 - _ . ~) and "/" is
// percent-encoded.
func escapeURIPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
