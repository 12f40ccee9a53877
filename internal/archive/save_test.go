package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

func TestSaveLimited(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		body    string
		limit   int64
		wantErr string
	}{
		{name: "under the limit", body: "hello", limit: 10},
		{name: "at the limit", body: "0123456789", limit: 10},
		{name: "over the limit", body: "0123456789a", limit: 10, wantErr: "over the limit of 10 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path, sum, err := SaveLimited(strings.NewReader(tt.body), dir, "x.*", tt.limit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Errorf("got %d files left in %s, want none", len(left), dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256([]byte(tt.body))
			if string(data) != tt.body || sum != hex.EncodeToString(want[:]) {
				t.Errorf("got %q with sha256 %s, want %q with %x", data, sum, tt.body, want)
			}
		})
	}
}
