package bitbucket

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	secret := []byte("It's a Secret to Everybody")
	body := []byte(`{"push":{"changes":[]}}`)
	good := Signature(secret, body)
	digits := strings.TrimPrefix(good, "sha256=")

	tests := []struct {
		name    string
		secret  []byte
		body    []byte
		header  string
		wantErr error
	}{
		{name: "good", secret: secret, body: body, header: good},
		{name: "good, empty body", secret: secret, body: nil, header: Signature(secret, nil)},
		{name: "wrong secret", secret: []byte("another secret"), body: body, header: good, wantErr: ErrSignatureMismatch},
		{name: "changed body", secret: secret, body: []byte(`{"push":{"changes":[{}]}}`), header: good, wantErr: ErrSignatureMismatch},
		{name: "upper-case hex of another body", secret: secret, body: body, header: "sha256=" + strings.ToUpper(strings.Repeat("ab", 32)), wantErr: ErrSignatureMismatch},
		{name: "missing", secret: secret, body: body, header: "", wantErr: ErrSignatureMissing},
		{name: "no equals sign", secret: secret, body: body, header: "sha256" + digits, wantErr: ErrSignatureMalformed},
		{name: "no algorithm", secret: secret, body: body, header: "=" + digits, wantErr: ErrSignatureMalformed},
		{name: "prefix only", secret: secret, body: body, header: "sha256=", wantErr: ErrSignatureTooShort},
		{name: "shorter than prefix", secret: secret, body: body, header: "sha2=", wantErr: ErrSignatureAlgorithm},
		{name: "digits cut short", secret: secret, body: body, header: good[:len(good)-2], wantErr: ErrSignatureTooShort},
		{name: "digits too long", secret: secret, body: body, header: good + "00", wantErr: ErrSignatureMalformed},
		{name: "sha1", secret: secret, body: body, header: "sha1=" + digits[:40], wantErr: ErrSignatureAlgorithm},
		{name: "algorithm in upper case", secret: secret, body: body, header: "SHA256=" + digits, wantErr: ErrSignatureAlgorithm},
		{name: "not hex", secret: secret, body: body, header: "sha256=" + strings.Repeat("zz", 32), wantErr: ErrSignatureNotHex},
		{name: "empty secret", secret: []byte{}, body: body, header: Signature(nil, body), wantErr: ErrNoSecret},
		{name: "nil secret", secret: nil, body: body, header: good, wantErr: ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(tt.secret, tt.body, tt.header)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var se *SignatureError
			if got, want := errors.As(err, &se), tt.wantErr != ErrNoSecret; got != want {
				t.Errorf("errors.As(*SignatureError) = %v, want %v", got, want)
			}
			if msg := err.Error(); strings.Contains(msg, digits) || strings.Contains(msg, string(secret)) {
				t.Errorf("error %q holds the signature or the secret", msg)
			}
		})
	}
}

func TestSignatureFormat(t *testing.T) {
	t.Parallel()
	// An HMAC-SHA256 computed independently:
	// printf 'hello' | openssl dgst -sha256 -hmac key
	got := Signature([]byte("key"), []byte("hello"))
	want := "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
