package workspace

import (
	"io"
	"strings"
	"sync"
)

// Redacted is what a hidden secret reads as.
const Redacted = "****"

// Redactor hides secrets in what steps write: every occurrence of each is
// replaced by Redacted. The zero value and nil hide nothing.
type Redactor struct {
	secrets []string
	longest int
}

// minSecret is the shortest value hidden: shorter ones would hide ordinary
// words and say more than they hide.
const minSecret = 4

// NewRedactor hides secrets, leaving out empty and very short ones.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) >= minSecret {
			r.secrets = append(r.secrets, s)
			r.longest = max(r.longest, len(s))
		}
	}
	return r
}

// String is s with the secrets hidden.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	return s
}

// Writer returns a writer that passes what it is given to w with the
// secrets hidden, even where a secret is split between two writes: it
// holds back the last few bytes, which could begin one, until more comes
// or Flush.
func (r *Redactor) Writer(w io.Writer) *RedactWriter {
	return &RedactWriter{r: r, w: w}
}

// RedactWriter is a Redactor's writer (see Redactor.Writer). It is safe for
// concurrent writes.
type RedactWriter struct {
	r       *Redactor
	w       io.Writer
	mu      sync.Mutex
	pending string
}

// Write passes p on, less what is held back; it never fails.
func (rw *RedactWriter) Write(p []byte) (int, error) {
	if rw.w == nil {
		return len(p), nil
	}
	if rw.r == nil || len(rw.r.secrets) == 0 {
		return rw.w.Write(p)
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	s := rw.r.String(rw.pending + string(p))
	// A secret that has begun but not ended starts in the last longest-1
	// bytes.
	keep := min(len(s), rw.r.longest-1)
	rw.pending = s[len(s)-keep:]
	io.WriteString(rw.w, s[:len(s)-keep]) // best effort, as Output's echo
	return len(p), nil
}

// Flush passes on what is held back.
func (rw *RedactWriter) Flush() {
	if rw.w == nil {
		return
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.pending != "" {
		io.WriteString(rw.w, rw.pending)
		rw.pending = ""
	}
}
