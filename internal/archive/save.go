package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// SaveLimited copies r into a new temporary file in dir (named by
// pattern, as os.CreateTemp names it), refusing more than limit bytes, and
// returns the file's path and hex SHA-256. On an error no file is left.
// Downloads of toolchains and archives go through it so that nothing over
// its limit reaches the disk whole.
func SaveLimited(r io.Reader, dir, pattern string, limit int64) (path, sum string, err error) {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, limit+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("over the limit of %d bytes", limit)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", "", err
	}
	return tmp.Name(), hex.EncodeToString(h.Sum(nil)), nil
}
