package indexes

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/indexes/indexestest"
)

const (
	password = "pypi-pass-do-not-leak"
	token    = "npm-token-do-not-leak"
)

func TestParseCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret string
		want         map[string]Credential
		err          string
	}{
		{
			name:   "a host's username and password, a registry's token under a path, a port",
			secret: `{"pypi.example.com": {"username": "ci", "password": "p4ss"}, "npm.example.com/npm/team/": {"token": "t0k"}, "nexus:8081": {"token": "t1k"}}`,
			want: map[string]Credential{
				"pypi.example.com":          {Username: "ci", Password: "p4ss"},
				"npm.example.com/npm/team/": {Token: "t0k"},
				"nexus:8081":                {Token: "t1k"},
			},
		},
		{name: "not JSON", secret: `machine x login ci password p4ss`, err: "want a JSON object"},
		{name: "unknown field", secret: `{"x.example": {"user": "ci", "pass": "p4ss"}}`, err: "want a JSON object"},
		{name: "a URL, not a host", secret: `{"https://x.example": {"token": "p4ss"}}`, err: `"https://x.example": want a host`},
		{name: "a user in the host", secret: `{"ci@x.example": {"token": "p4ss"}}`, err: "want a host"},
		{name: "no password", secret: `{"x.example": {"username": "ci"}}`, err: "x.example: want a username and password, or a token"},
		{name: "white space", secret: `{"x.example": {"token": "p4 ss"}}`, err: "holds white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCredentials(tt.secret)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error saying %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "p4ss") {
					t.Errorf("error %q quotes the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %+v, want %+v", k, got[k], v)
				}
			}
		})
	}
}

func TestEnvWritesCredentialFiles(t *testing.T) {
	t.Parallel()
	root, dir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "pip.conf"), []byte("[global]\nindex-url = https://pypi.example.com/simple\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Settings{
		PipIndexURL:      "https://pypi.example.com/simple",
		PipExtraIndexURL: "https://a.example/simple https://b.example/simple",
		NpmRegistry:      "https://npm.example.com/npm/team/",
		Credentials: map[string]Credential{
			"pypi.example.com:8443":     {Username: "ci", Password: password},
			"npm.example.com/npm/team/": {Token: token},
		},
	}
	env, err := s.Env(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"PIP_INDEX_URL=https://pypi.example.com/simple", "UV_DEFAULT_INDEX=https://pypi.example.com/simple",
		"PIP_EXTRA_INDEX_URL=https://a.example/simple https://b.example/simple", "UV_INDEX=https://a.example/simple https://b.example/simple",
		"npm_config_registry=https://npm.example.com/npm/team/",
		"PIP_CONFIG_FILE=" + filepath.Join(root, "pip.conf"),
		"NETRC=" + filepath.Join(dir, "netrc"), "npm_config_userconfig=" + filepath.Join(dir, "npmrc"),
	} {
		if !slices.Contains(env, want) {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
	for _, kv := range env {
		if strings.Contains(kv, password) || strings.Contains(kv, token) {
			t.Errorf("env holds a secret: %q", kv)
		}
	}
	files := map[string]string{
		"netrc": "machine pypi.example.com login ci password " + password + "\n",
		"npmrc": "//npm.example.com/npm/team/:_authToken=" + token + "\n//pypi.example.com:8443/:username=ci\n//pypi.example.com:8443/:_password=" + base64.StdEncoding.EncodeToString([]byte(password)) + "\n",
	}
	for name, want := range files {
		p := filepath.Join(dir, name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", name, fi.Mode(), err)
		}
	}
	for _, secret := range []string{password, token, base64.StdEncoding.EncodeToString([]byte(password)), base64.StdEncoding.EncodeToString([]byte("ci:" + password))} {
		if !slices.Contains(s.Secrets(), secret) {
			t.Errorf("Secrets() lacks %q", secret)
		}
	}

	// Nothing set, no pip.conf: nothing to say.
	if env, err := (Settings{}).Env(t.TempDir(), t.TempDir()); err != nil || len(env) != 0 {
		t.Errorf("no settings: got %q, %v; want nothing", env, err)
	}
}

type fakeSecrets map[string]string

func (f fakeSecrets) Get(_ context.Context, arn string) (string, error) {
	if v, ok := f[arn]; ok {
		return v, nil
	}
	return "", errors.New("no such secret")
}

// Not parallel: it sets the process environment, as Lambda does.
func TestFromEnv(t *testing.T) {
	t.Setenv("PIP_INDEX_URL", "https://pypi.example.com/simple")
	t.Setenv("PIP_EXTRA_INDEX_URL", "")
	t.Setenv("NPM_CONFIG_REGISTRY", "https://npm.example.com/")
	t.Setenv("PACKAGE_INDEX_SECRET_ARN", "arn:secret:indexes")
	src := FromEnv(fakeSecrets{"arn:secret:indexes": `{"npm.example.com": {"token": "` + token + `"}}`})
	got, err := src.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.PipIndexURL != "https://pypi.example.com/simple" || got.NpmRegistry != "https://npm.example.com/" || got.Credentials["npm.example.com"].Token != token {
		t.Errorf("got %+v, want the environment's settings and the secret's credentials", got)
	}

	t.Setenv("PACKAGE_INDEX_SECRET_ARN", "arn:secret:bad")
	_, err = FromEnv(fakeSecrets{"arn:secret:bad": `{"x": {"token": "` + token + ` x"}}`}).Settings(context.Background())
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("a bad secret: got %v, want an error that does not quote it", err)
	}
	t.Setenv("PACKAGE_INDEX_SECRET_ARN", "")
	if got, err := FromEnv(nil).Settings(context.Background()); err != nil || got.Credentials != nil {
		t.Errorf("no secret: got %+v, %v; want no credentials", got, err)
	}
}

// The real pip and npm get what they need from the files Env writes: a
// PEP 503 index that wants basic auth serves pip, a registry that wants a
// bearer token serves npm, and neither tool shows a secret.
func TestPipAndNpmUseTheCredentials(t *testing.T) {
	t.Parallel()
	srv := indexestest.Start(t, "ci", password, token)
	s := Settings{
		PipIndexURL: srv.PipIndex,
		NpmRegistry: srv.NpmRegistry,
		Credentials: map[string]Credential{
			srv.Host:          {Username: "ci", Password: password},
			srv.Host + "/npm": {Token: token},
		},
	}
	env, err := s.Env(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(), "PIP_TRUSTED_HOST="+strings.Split(srv.Host, ":")[0],
		"PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "npm_config_cache="+t.TempDir(), "npm_config_update_notifier=false")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"pip", []string{"python3", "-m", "pip", "download", "--no-deps", "--dest", ".", "tiny==1.0"}, "tiny-1.0-py3-none-any.whl"},
		{"npm", []string{"npm", "install", "--no-save", "--no-audit", "--no-fund", "tiny@1.0.0"}, "node_modules/tiny/package.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := exec.Command(tt.args[0], tt.args[1:]...)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
			if _, err := os.Stat(filepath.Join(dir, tt.want)); err != nil {
				t.Errorf("%s did not fetch %s through the credentials: %v\n%s", tt.name, tt.want, err, out)
			}
			for _, secret := range s.Secrets() {
				if strings.Contains(string(out), secret) {
					t.Errorf("%s's output shows a secret:\n%s", tt.name, out)
				}
			}
		})
	}
}

// The build keys' names of the indexes: the URLs, never a credential.
func TestKeysNameTheIndexesNotTheirCredentials(t *testing.T) {
	t.Parallel()
	base := Settings{PipIndexURL: "https://pypi.example.com/simple", PipExtraIndexURL: "https://a.example.com/simple https://b.example.com/simple",
		NpmRegistry: "https://npm.example.com/npm/"}
	tests := []struct {
		name             string
		s                Settings
		samePip, sameNpm bool
	}{
		{name: "the same", s: base, samePip: true, sameNpm: true},
		{name: "other credentials", s: func() Settings {
			s := base
			s.Credentials = map[string]Credential{"pypi.example.com": {Username: "ci", Password: password}, "npm.example.com": {Token: token}}
			return s
		}(), samePip: true, sameNpm: true},
		{name: "a password in the index URL", s: func() Settings {
			s := base
			s.PipIndexURL = "https://ci:" + password + "@pypi.example.com/simple"
			s.NpmRegistry = "https://ci:" + token + "@npm.example.com/npm/"
			return s
		}(), samePip: true, sameNpm: true},
		{name: "another index", s: func() Settings { s := base; s.PipIndexURL = "https://mirror.example.com/simple"; return s }(), sameNpm: true},
		{name: "another extra index", s: func() Settings { s := base; s.PipExtraIndexURL = "https://a.example.com/simple"; return s }(), sameNpm: true},
		{name: "another registry", s: func() Settings { s := base; s.NpmRegistry = "https://registry.npmjs.org/"; return s }(), samePip: true},
		{name: "none", s: Settings{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pip, npm := tt.s.PythonKey(), tt.s.NpmKey()
			if got := pip == base.PythonKey(); got != tt.samePip {
				t.Errorf("PythonKey %q: got the same as %q %v, want %v", pip, base.PythonKey(), got, tt.samePip)
			}
			if got := npm == base.NpmKey(); got != tt.sameNpm {
				t.Errorf("NpmKey %q: got the same as %q %v, want %v", npm, base.NpmKey(), got, tt.sameNpm)
			}
			for _, secret := range []string{password, token} {
				if strings.Contains(pip+npm, secret) {
					t.Errorf("a key holds a credential: %q, %q", pip, npm)
				}
			}
		})
	}
}
