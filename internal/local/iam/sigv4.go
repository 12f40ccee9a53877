package iam

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxSkew is how far a signed request's time may be from the local AWS's
// clock, as AWS allows.
const maxSkew = 15 * time.Minute

// maxPresignExpires is the longest X-Amz-Expires SigV4 accepts (7 days).
const maxPresignExpires = 7 * 24 * 60 * 60

// The payload hashes S3 accepts in X-Amz-Content-Sha256 besides a hex
// SHA-256: the signature covers the headers only, or the body is sent in
// aws-chunked encoding whose chunks are signed (or not) one by one.
const (
	unsignedPayload = "UNSIGNED-PAYLOAD"
	streamingPrefix = "STREAMING-"
)

// signerIgnores are the headers aws-sdk-go-v2's signer never signs; a
// request that signed one of them cannot be recomputed with it.
var signerIgnores = []string{"authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding"}

// refusal is why the local AWS refuses a request's signature or
// credentials: the error code each protocol answers with, and AWS's
// message.
type refusal struct {
	// kind is one of the refusal kinds below; the protocol decides the
	// code and status it is answered with.
	kind    refusalKind
	message string
}

type refusalKind int

const (
	badSignature refusalKind = iota
	badToken
	expiredToken
	skewed
	presignExpired
	badPresign
)

// verifySignature recomputes the SigV4 signature of a request signed with
// a session the authority issued, with aws-sdk-go-v2's signer and the
// session's secret, and checks the session token, the credentials'
// expiry, the request's time and a presigned URL's expiry as AWS does.
// body is the request's body when the proxy read it (nil for S3, whose
// bodies are streamed: their hash is the X-Amz-Content-Sha256 header the
// signature covers). It returns nil for a good request. A request that
// signed a header the SDK's signer never signs is verified by
// canonicalSignature, from its own SignedHeaders.
func verifySignature(r *http.Request, sig Signature, s *Session, body []byte, now time.Time) *refusal {
	q := r.URL.Query()
	presigned := r.Header.Get("Authorization") == ""
	var signedHeaders, signature, amzDate, token string
	if presigned {
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			return &refusal{badPresign, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""}
		}
		signedHeaders, signature, amzDate, token = q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), q.Get("X-Amz-Date"), q.Get("X-Amz-Security-Token")
	} else {
		auth := r.Header.Get("Authorization")
		alg, rest, _ := strings.Cut(auth, " ")
		if alg != "AWS4-HMAC-SHA256" {
			return &refusal{badSignature, "Unsupported authorization type: " + alg}
		}
		for _, f := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			switch k {
			case "SignedHeaders":
				signedHeaders = v
			case "Signature":
				signature = v
			}
		}
		amzDate, token = r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token")
	}
	if signature == "" || signedHeaders == "" {
		return &refusal{badSignature, "Authorization header requires 'Signature' and 'SignedHeaders' parameters."}
	}
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &refusal{badSignature, "Authorization requires the request's time in X-Amz-Date (yyyyMMdd'T'HHmmss'Z')."}
	}

	// The session token first, as AWS checks it: a token that is not
	// the session's, or a session past its expiry.
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.SessionToken)) != 1 {
		return &refusal{badToken, "The security token included in the request is invalid."}
	}
	if now.After(s.Expiration) {
		return &refusal{expiredToken, "The security token included in the request is expired"}
	}
	if presigned {
		expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		switch {
		case err != nil || expires < 0:
			return &refusal{badPresign, "X-Amz-Expires should be a number of seconds"}
		case expires > maxPresignExpires:
			return &refusal{badPresign, "X-Amz-Expires must be less than a week (in seconds) that is; 604800"}
		case now.After(signedAt.Add(time.Duration(expires) * time.Second)):
			return &refusal{presignExpired, "Request has expired"}
		case signedAt.After(now.Add(maxSkew)):
			return &refusal{presignExpired, "Request is not valid yet"}
		}
	} else if d := now.Sub(signedAt); d > maxSkew || d < -maxSkew {
		return &refusal{skewed, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxSkew).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z"))}
	}

	// The request as it was signed: its method, host, path and query (a
	// presigned URL's without its signature), and only the headers it
	// signed, for the signer to sign again with the session's secret.
	names := strings.Split(strings.ToLower(signedHeaders), ";")
	if !slices.Contains(names, "host") {
		return &refusal{badSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization."}
	}
	// A request that signed a header aws-sdk-go-v2's signer never signs
	// (the AWS SDK for JavaScript signs User-Agent) is verified from its
	// own SignedHeaders instead.
	own := slices.ContainsFunc(names, func(n string) bool { return slices.Contains(signerIgnores, n) })
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	if presigned {
		q.Del("X-Amz-Signature")
		u.RawQuery = q.Encode()
	}
	vr := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	tokenSigned := false
	for _, n := range names {
		switch n {
		case "host":
		case "content-length":
			vr.ContentLength = r.ContentLength
		case "x-amz-security-token":
			tokenSigned = true
			fallthrough
		default:
			if v := r.Header.Values(n); len(v) > 0 {
				vr.Header[http.CanonicalHeaderKey(n)] = v
			}
		}
	}

	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case payloadHash == unsignedPayload || strings.HasPrefix(payloadHash, streamingPrefix):
		// The signature covers the headers (and a streaming body's
		// chunks carry signatures of their own, chained to this one).
	case payloadHash != "":
		if body != nil && !hmac.Equal([]byte(payloadHash), []byte(sha256Hex(body))) {
			return &refusal{badSignature, "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
	case presigned && sig.Service == "s3":
		payloadHash = unsignedPayload
	default:
		payloadHash = sha256Hex(body)
	}

	if own {
		want := canonicalSignature(r, names, payloadHash, sig.Service, sig.Region, signedAt, s.SecretAccessKey, presigned, sig.Service != "s3")
		if !hmac.Equal([]byte(want), []byte(signature)) {
			return &refusal{badSignature, "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
		}
		return nil
	}
	creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}
	if tokenSigned || presigned {
		creds.SessionToken = token
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableHeaderHoisting = true
		o.DisableURIPathEscaping = sig.Service == "s3"
		o.DisableSessionToken = !tokenSigned && !presigned
	})
	var want string
	if presigned {
		signedURI, _, err := signer.PresignHTTP(r.Context(), creds, vr, payloadHash, sig.Service, sig.Region, signedAt)
		if err != nil {
			return &refusal{badSignature, "The request signature could not be computed."}
		}
		su, err := url.Parse(signedURI)
		if err != nil {
			return &refusal{badSignature, "The request signature could not be computed."}
		}
		want = su.Query().Get("X-Amz-Signature")
	} else {
		if err := signer.SignHTTP(r.Context(), creds, vr, payloadHash, sig.Service, sig.Region, signedAt); err != nil {
			return &refusal{badSignature, "The request signature could not be computed."}
		}
		_, want, _ = strings.Cut(vr.Header.Get("Authorization"), "Signature=")
	}
	if want == "" || !hmac.Equal([]byte(want), []byte(signature)) {
		return &refusal{badSignature, "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeRefusal answers a refused signature or credentials as the
// service's protocol does: S3 with its XML error (SignatureDoesNotMatch,
// InvalidToken, ExpiredToken, RequestTimeTooSkewed, AccessDenied for an
// expired presigned URL), the JSON protocols with InvalidSignatureException,
// UnrecognizedClientException or ExpiredTokenException, and the query
// protocols with SignatureDoesNotMatch, InvalidClientTokenId or
// ExpiredToken. The message never carries the secret or the signature
// the local AWS computed.
func writeRefusal(w http.ResponseWriter, service string, ref *refusal) {
	protocol := protocolOf(service)
	var code string
	status := http.StatusForbidden
	switch protocol {
	case "rest-xml":
		code = map[refusalKind]string{badSignature: "SignatureDoesNotMatch", badToken: "InvalidToken", expiredToken: "ExpiredToken",
			skewed: "RequestTimeTooSkewed", presignExpired: "AccessDenied", badPresign: "AuthorizationQueryParametersError"}[ref.kind]
		if ref.kind == badToken || ref.kind == expiredToken || ref.kind == badPresign {
			status = http.StatusBadRequest
		}
	case "query":
		code = map[refusalKind]string{badSignature: "SignatureDoesNotMatch", badToken: "InvalidClientTokenId", expiredToken: "ExpiredToken",
			skewed: "SignatureDoesNotMatch", presignExpired: "SignatureDoesNotMatch", badPresign: "SignatureDoesNotMatch"}[ref.kind]
	default:
		code = map[refusalKind]string{badSignature: "InvalidSignatureException", badToken: "UnrecognizedClientException", expiredToken: "ExpiredTokenException",
			skewed: "InvalidSignatureException", presignExpired: "InvalidSignatureException", badPresign: "InvalidSignatureException"}[ref.kind]
		if protocol == "json" {
			status = http.StatusBadRequest
		}
	}
	writeError(w, protocol, status, code, ref.message)
}

// verified verifies the signature of a request signed with session s and
// answers a refused one as its service does; it reports whether the
// request may go on. In Warn mode a refusal is logged and let through.
func (p *Proxy) verified(w http.ResponseWriter, r *http.Request, sig Signature, s *Session) bool {
	var body []byte
	if r.Body != nil && (sig.Service != "s3" || (r.Header.Get("X-Amz-Content-Sha256") == "" && r.Header.Get("Authorization") != "")) {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody)); err != nil {
			http.Error(w, "read the request: "+err.Error(), http.StatusBadRequest)
			return false
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if body == nil && sig.Service != "s3" {
		body = []byte{}
	}
	who := cmp.Or(s.Principal.ARN, s.Principal.Service)
	ref := verifySignature(r, sig, s, body, p.auth.opts.Now())
	if ref == nil {
		p.verifyChunks(r, sig, s, who)
		return true
	}
	switch p.auth.opts.Mode {
	case Warn:
		fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM would refuse (let through, --iam warn): %s %s of %s: %s\n", sig.Service, r.Method, who, ref.message)
		return true
	default:
		fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM refused: %s %s of %s: %s\n", sig.Service, r.Method, who, ref.message)
		writeRefusal(w, sig.Service, ref)
		return false
	}
}

// verifyChunks makes the body of an S3 request whose chunks are signed
// (X-Amz-Content-Sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD), whose seed
// signature is verified, verify each chunk's signature as it is passed
// on: a wrong one ends the body, and the proxy answers S3's
// SignatureDoesNotMatch (proxyError); --iam warn logs it and lets the
// body through. The request goes on to kumo with the data decoded.
func (p *Proxy) verifyChunks(r *http.Request, sig Signature, s *Session, who string) {
	if sig.Service != "s3" || r.Body == nil || r.Header.Get("X-Amz-Content-Sha256") != streamingSigned || r.Header.Get("Authorization") == "" {
		return
	}
	_, seed, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	seed, _, _ = strings.Cut(seed, ",")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return // verifySignature refused it already
	}
	creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}
	refuse := func(e *chunkError) error {
		if p.auth.opts.Mode == Warn {
			fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM would refuse (let through, --iam warn): %s %s of %s: %s\n", sig.Service, r.Method, who, e.message)
			return nil
		}
		fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM refused: %s %s of %s: %s\n", sig.Service, r.Method, who, e.message)
		return e
	}
	want, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil || want < 0 {
		return // S3 requires it: kumo answers its absence
	}
	v, err := newChunkVerifier(r.Body, creds, sig.Region, at, strings.TrimSpace(seed), want, refuse)
	if err != nil {
		return // verifySignature compared the seed already
	}
	// kumo gets the object's data, decoded, as an unsigned payload: it
	// stores aws-chunked bodies as they come.
	r.Body, r.ContentLength = v, want
	r.Header.Set("Content-Length", strconv.FormatInt(want, 10))
	r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	r.Header.Del("X-Amz-Decoded-Content-Length")
	var encodings []string
	for _, e := range strings.Split(r.Header.Get("Content-Encoding"), ",") {
		if e = strings.TrimSpace(e); e != "" && e != "aws-chunked" {
			encodings = append(encodings, e)
		}
	}
	if len(encodings) == 0 {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", strings.Join(encodings, ","))
	}
}
