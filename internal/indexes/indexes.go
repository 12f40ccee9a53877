package indexes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Credential is what one index host needs: a username and password (pip,
// uv; npm's basic auth), or a token (npm's _authToken).
type Credential struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
}

// Settings are the indexes and their credentials.
type Settings struct {
	// PipIndexURL and PipExtraIndexURL are pip's PIP_INDEX_URL and
	// PIP_EXTRA_INDEX_URL (space-separated URLs); empty leaves pip's.
	PipIndexURL, PipExtraIndexURL string
	// NpmRegistry is npm's registry; empty leaves npm's.
	NpmRegistry string
	// Credentials are by host, or host and path for npm registries that
	// live under a path ("npm.example.com/npm/team/").
	Credentials map[string]Credential
}

// ParseCredentials reads the credentials secret: a JSON object from index
// host (or host/path) to {"username", "password"} or {"token"}:
//
//	{"pypi.example.com": {"username": "ci", "password": "..."},
//	 "npm.example.com": {"token": "..."}}
//
// Its errors never quote the secret.
func ParseCredentials(secret string) (map[string]Credential, error) {
	var creds map[string]Credential
	dec := json.NewDecoder(strings.NewReader(secret))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&creds); err != nil {
		return nil, errors.New(`package index credentials: want a JSON object such as {"pypi.example.com": {"username": "ci", "password": "..."}, "npm.example.com": {"token": "..."}}`)
	}
	for key, c := range creds {
		host, _, _ := strings.Cut(key, "/")
		switch {
		case host == "" || strings.ContainsAny(key, " \t\n@") || strings.Contains(key, "//"):
			return nil, fmt.Errorf("package index credentials: %q: want a host (and port), or a host and path, such as npm.example.com/npm/", key)
		case c.Token == "" && (c.Username == "" || c.Password == ""):
			return nil, fmt.Errorf("package index credentials: %s: want a username and password, or a token", key)
		case strings.ContainsAny(c.Username+c.Password+c.Token, " \t\r\n"):
			return nil, fmt.Errorf("package index credentials: %s: a username, password or token holds white space", key)
		}
	}
	return creds, nil
}

// Secrets are the values that must never be shown: every password and
// token, and the encodings npm's config holds them in.
func (s Settings) Secrets() []string {
	var out []string
	for _, c := range s.Credentials {
		for _, v := range []string{c.Password, c.Token} {
			if v != "" {
				out = append(out, v, base64.StdEncoding.EncodeToString([]byte(v)))
			}
		}
		if c.Username != "" && c.Password != "" {
			out = append(out, base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
		}
	}
	return out
}

// Env returns the variables that give pip, uv and npm these settings, and
// writes the credentials they need into dir (which only the step reads):
// a netrc (NETRC, which pip and uv read) and an npm user config
// (npm_config_userconfig). A pip.conf at the repository's root becomes
// PIP_CONFIG_FILE; pip lets PIP_INDEX_URL win over it, as always.
func (s Settings) Env(dir, root string) ([]string, error) {
	var env []string
	if s.PipIndexURL != "" {
		env = append(env, "PIP_INDEX_URL="+s.PipIndexURL, "UV_DEFAULT_INDEX="+s.PipIndexURL)
	}
	if s.PipExtraIndexURL != "" {
		env = append(env, "PIP_EXTRA_INDEX_URL="+s.PipExtraIndexURL, "UV_INDEX="+s.PipExtraIndexURL)
	}
	if s.NpmRegistry != "" {
		env = append(env, "npm_config_registry="+s.NpmRegistry)
	}
	if root != "" {
		if fi, err := os.Stat(filepath.Join(root, "pip.conf")); err == nil && fi.Mode().IsRegular() {
			env = append(env, "PIP_CONFIG_FILE="+filepath.Join(root, "pip.conf"))
		}
	}
	if len(s.Credentials) == 0 {
		return env, nil
	}
	var netrc, npmrc strings.Builder
	for _, key := range slices.Sorted(maps.Keys(s.Credentials)) {
		c := s.Credentials[key]
		host, _, _ := strings.Cut(key, "/")
		host, _, _ = strings.Cut(host, ":") // a netrc names machines without ports
		if c.Username != "" && c.Password != "" {
			fmt.Fprintf(&netrc, "machine %s login %s password %s\n", host, c.Username, c.Password)
		}
		nerf := "//" + strings.TrimSuffix(key, "/") + "/:"
		if c.Token != "" {
			fmt.Fprintf(&npmrc, "%s_authToken=%s\n", nerf, c.Token)
		} else {
			fmt.Fprintf(&npmrc, "%susername=%s\n%s_password=%s\n", nerf, c.Username, nerf, base64.StdEncoding.EncodeToString([]byte(c.Password)))
		}
	}
	for name, body := range map[string]string{"netrc": netrc.String(), "npmrc": npmrc.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return nil, fmt.Errorf("package index credentials: %w", err)
		}
	}
	return append(env, "NETRC="+filepath.Join(dir, "netrc"), "npm_config_userconfig="+filepath.Join(dir, "npmrc")), nil
}

// PythonKey names the indexes pip and uv resolve from, for build keys:
// PipIndexURL and PipExtraIndexURL as URLs without the user information
// they may hold. A key never holds a credential: a password that changes
// builds nothing again, an index that changes does.
func (s Settings) PythonKey() string {
	return "python index " + keyURLs(s.PipIndexURL) + "; extra " + keyURLs(s.PipExtraIndexURL)
}

// NpmKey names the registry npm resolves from, for build keys, as
// PythonKey does pip's indexes.
func (s Settings) NpmKey() string {
	return "npm registry " + keyURLs(s.NpmRegistry)
}

// keyURLs returns the space-separated URLs of list without their user
// information.
func keyURLs(list string) string {
	var out []string
	for _, f := range strings.Fields(list) {
		u, err := url.Parse(f)
		if err != nil {
			out = append(out, "(not a URL)") // never the text: it may hold a password
			continue
		}
		u.User = nil
		out = append(out, u.String())
	}
	return strings.Join(out, " ")
}

// secretGetter reads a secret's value; *secrets.Cache is one.
type secretGetter interface {
	Get(ctx context.Context, arn string) (string, error)
}

// Source gives a handler its Settings: the URLs from its environment, the
// credentials from Secrets Manager, read once.
type Source struct {
	settings Settings
	arn      string
	secrets  secretGetter
}

// FromEnv reads a handler's settings from its environment:
//
//	PIP_INDEX_URL, PIP_EXTRA_INDEX_URL  pip's indexes (also uv's)
//	NPM_CONFIG_REGISTRY                 npm's registry
//	PACKAGE_INDEX_SECRET_ARN            the secret of the indexes' credentials (see ParseCredentials)
//
// reading the secret through secrets when there is one.
func FromEnv(secrets secretGetter) *Source {
	return &Source{
		settings: Settings{
			PipIndexURL:      os.Getenv("PIP_INDEX_URL"),
			PipExtraIndexURL: os.Getenv("PIP_EXTRA_INDEX_URL"),
			NpmRegistry:      os.Getenv("NPM_CONFIG_REGISTRY"),
		},
		arn:     os.Getenv("PACKAGE_INDEX_SECRET_ARN"),
		secrets: secrets,
	}
}

// Settings returns the settings, reading the credentials' secret (once,
// through the cache) when there is one.
func (src *Source) Settings(ctx context.Context) (Settings, error) {
	if src == nil {
		return Settings{}, nil
	}
	s := src.settings
	if src.arn == "" {
		return s, nil
	}
	if src.secrets == nil {
		return Settings{}, errors.New("package index credentials: PACKAGE_INDEX_SECRET_ARN is set, but this function reads no secrets: " +
			"the grant step hands the checks and package steps the credentials; set it on the grant function")
	}
	value, err := src.secrets.Get(ctx, src.arn)
	if err != nil {
		return Settings{}, fmt.Errorf("package index credentials: %w", err)
	}
	if s.Credentials, err = ParseCredentials(value); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// WithCredentials returns s with the credentials of secret (as
// ParseCredentials reads it): the package indexes' credentials handed to a
// step through a presigned URL rather than read from Secrets Manager.
func (s Settings) WithCredentials(secret string) (Settings, error) {
	creds, err := ParseCredentials(secret)
	if err != nil {
		return Settings{}, err
	}
	s.Credentials = creds
	return s, nil
}

// NewSource is a Source of fixed settings, for stackflow local and tests.
func NewSource(s Settings) *Source { return &Source{settings: s} }
