package bitbucket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Header names of a Bitbucket Cloud webhook delivery.
const (
	// HeaderEventKey names the event, such as "repo:push".
	HeaderEventKey = "X-Event-Key"
	// HeaderRequestUUID identifies one delivery; a redelivery has its own.
	HeaderRequestUUID = "X-Request-UUID"
	// HeaderHookUUID identifies the webhook that sent the delivery.
	HeaderHookUUID = "X-Hook-UUID"
	// HeaderAttemptNumber counts the attempts of one delivery, from 1.
	HeaderAttemptNumber = "X-Attempt-Number"
	// HeaderSignature holds "sha256=<hex>", the HMAC-SHA256 of the raw body
	// keyed with the webhook's secret. Bitbucket omits it when the webhook
	// has no secret.
	HeaderSignature = "X-Hub-Signature"
)

// MaxPayloadBytes is the largest body Bitbucket sends, and the most a
// receiver should read.
const MaxPayloadBytes = 256 << 10

// signaturePrefix is the only algorithm Bitbucket Cloud signs with.
const signaturePrefix = "sha256="

// SignatureError is a delivery whose signature does not prove that it came
// from the webhook holding the secret. Its message names the problem and
// never holds the signature or the secret.
type SignatureError struct {
	problem string
}

// Error says what is wrong with the header, never what it holds.
func (e *SignatureError) Error() string { return HeaderSignature + " " + e.problem }

// The ways a signature can fail. Each is a *SignatureError, so a caller can
// tell any of them apart from ErrNoSecret with errors.As.
var (
	ErrSignatureMissing   = &SignatureError{"is missing: set a secret on the Bitbucket webhook"}
	ErrSignatureMalformed = &SignatureError{"is malformed: want sha256=<64 hex digits>"}
	ErrSignatureTooShort  = &SignatureError{"is too short: want sha256=<64 hex digits>"}
	ErrSignatureAlgorithm = &SignatureError{"uses an unsupported algorithm: want sha256"}
	ErrSignatureNotHex    = &SignatureError{"is not hexadecimal: want sha256=<64 hex digits>"}
	ErrSignatureMismatch  = &SignatureError{"does not match the body: check that the webhook's secret is the one stackflow holds"}
)

// ErrNoSecret is a verification without a secret. It always fails, so that
// a pipeline whose secret is not configured refuses every delivery.
var ErrNoSecret = errors.New("no webhook secret configured")

// Signature returns the X-Hub-Signature value Bitbucket sends for body when
// the webhook's secret is secret.
func Signature(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks that header, the value of X-Hub-Signature, is the
// HMAC-SHA256 of body keyed with secret, comparing in constant time. It
// returns nil only for a match; ErrNoSecret when secret is empty; otherwise
// one of the ErrSignature errors.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	if header == "" {
		return ErrSignatureMissing
	}
	algorithm, digits, ok := strings.Cut(header, "=")
	if !ok || algorithm == "" {
		return ErrSignatureMalformed
	}
	if algorithm != strings.TrimSuffix(signaturePrefix, "=") {
		return ErrSignatureAlgorithm
	}
	switch {
	case len(digits) < hex.EncodedLen(sha256.Size):
		return ErrSignatureTooShort
	case len(digits) > hex.EncodedLen(sha256.Size):
		return ErrSignatureMalformed
	}
	got, err := hex.DecodeString(digits)
	if err != nil {
		return ErrSignatureNotHex
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrSignatureMismatch
	}
	return nil
}
