package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// maxFileBytes is the largest stackflow.yml or samconfig.toml read.
const maxFileBytes = 1 << 20

// Load reads stackflow.yml and, when there is one, samconfig.toml at the
// root of the repository tree. where names the tree for people ("acme/hello
// at 0123abc", a directory) in the error when stackflow.yml is missing.
func Load(tree, where string) (*Config, *SAMConfig, error) {
	data, err := readFile(tree, File)
	if errors.Is(err, fs.ErrNotExist) {
		missing := &pipeline.ConfigInvalid{
			File:    File,
			Problem: fmt.Sprintf("%s has no %s at its root", where, File),
			Fix:     "add one at the repository root; the README's stackflow.yml section shows what it holds",
		}
		if _, err := os.Stat(filepath.Join(tree, "stackflow.yaml")); err == nil {
			missing.Fix = "rename stackflow.yaml to stackflow.yml"
		}
		return nil, nil, missing
	}
	if err != nil {
		return nil, nil, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, nil, err
	}
	var sam *SAMConfig
	data, err = readFile(tree, SAMFile)
	switch {
	case err == nil:
		if sam, err = ParseSAMConfig(data); err != nil {
			return nil, nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, err
	}
	return cfg, sam, nil
}

// readFile reads the file name at the root of tree. A missing file is
// fs.ErrNotExist; one that is not a small regular file is ConfigInvalid.
func readFile(tree, name string) ([]byte, error) {
	p := filepath.Join(tree, name)
	fi, err := os.Stat(p) // an extracted archive's links stay inside the tree
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxFileBytes {
		return nil, &pipeline.ConfigInvalid{File: name, Problem: "is not a regular file of at most 1 MiB",
			Fix: "keep " + name + " a plain text file at the repository root"}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}
