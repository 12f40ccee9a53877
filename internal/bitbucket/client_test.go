package bitbucket

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const (
	testToken = "ATCTT3xFfGN0-not-a-real-token"
	testEmail = "ada@example.com"
	commitA   = "e10dae226959c2194f2b07b077c07762d93821cf"
)

var testRepo = pipeline.Repository{Workspace: "acme", Slug: "hello"}

// request is what the fake Bitbucket saw of one request.
type request struct {
	Method        string
	Path          string
	Authorization string
	ContentType   string
	Body          map[string]any
}

// fakeBitbucket follows Bitbucket Cloud's documented API for the two
// resources the client uses. It accepts one Authorization header value and
// knows the archives of some commits of acme/hello.
type fakeBitbucket struct {
	URL string

	auth     string
	archives map[string]string

	mu       sync.Mutex
	requests []request
	// answer, when not zero, is the status every request gets.
	answer int
	// answerBody goes with answer.
	answerBody string
}

func setup(t *testing.T, auth string) *fakeBitbucket {
	t.Helper()
	f := &fakeBitbucket{auth: auth, archives: map[string]string{commitA: "tar.gz bytes of " + commitA}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{workspace}/{slug}/get/{file}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("workspace") != "acme" || r.PathValue("slug") != "hello" {
			http.NotFound(w, r)
			return
		}
		archive, ok := f.archives[strings.TrimSuffix(r.PathValue("file"), ".tar.gz")]
		if !ok || !strings.HasSuffix(r.PathValue("file"), ".tar.gz") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		io.WriteString(w, archive)
	})
	mux.HandleFunc("POST /2.0/repositories/{workspace}/{slug}/commit/{commit}/statuses/build", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("workspace") != "acme" || r.PathValue("slug") != "hello" {
			http.NotFound(w, r)
			return
		}
		if _, ok := f.archives[r.PathValue("commit")]; !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"error","error":{"message":"Commit not found"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"type":"commitstatus","state":"INPROGRESS"}`)
	})

	mux.HandleFunc("GET /2.0/repositories/{workspace}/{slug}/commit/{commit}", func(w http.ResponseWriter, r *http.Request) {
		var match []string
		for sha := range f.archives {
			if strings.HasPrefix(sha, r.PathValue("commit")) {
				match = append(match, sha)
			}
		}
		if r.PathValue("workspace") != "acme" || r.PathValue("slug") != "hello" || len(match) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"error","error":{"message":"Commit not found"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"type":"commit","hash":%q,"message":"Friendlier greeting\n","parents":[]}`, match[0])
	})

	notFound := func(w http.ResponseWriter, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"type":"error","error":{"message":%q}}`, msg)
	}
	// The API's paths and the web's overlap as patterns ("/2.0/repositories/get/x"):
	// Bitbucket serves them on two hosts, the fake with two muxes.
	api := http.NewServeMux()
	api.HandleFunc("GET /2.0/repositories/{workspace}/{slug}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("workspace") != "acme" || r.PathValue("slug") != "hello" {
			notFound(w, "Repository acme/"+r.PathValue("slug")+" not found")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":"repository","full_name":"acme/hello","mainbranch":{"type":"branch","name":"release/main"},"scm":"git"}`)
	})
	api.HandleFunc("GET /2.0/repositories/{workspace}/{slug}/refs/branches/{name...}", func(w http.ResponseWriter, r *http.Request) {
		// Bitbucket takes the name with its slashes escaped.
		if r.PathValue("slug") != "hello" || r.PathValue("name") != "release/main" || !strings.Contains(r.URL.EscapedPath(), "release%2Fmain") {
			notFound(w, "Branch not found")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"type":"branch","name":"release/main","target":{"type":"commit","hash":%q}}`, commitA)
	})
	api.HandleFunc("GET /2.0/repositories/{workspace}/{slug}/src/{commit}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		files := map[string]string{"stackflow.yml": "environments: []\n", "deploy/config file.toml": "x = 1\n", "big.bin": strings.Repeat("x", MaxFileBytes+1)}
		body, ok := files[r.PathValue("path")]
		if r.PathValue("slug") != "hello" || r.PathValue("commit") != commitA || !ok {
			notFound(w, "No such file or directory: "+r.PathValue("path"))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	})

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := request{
			Method:        r.Method,
			Path:          r.URL.EscapedPath(),
			Authorization: r.Header.Get("Authorization"),
			ContentType:   r.Header.Get("Content-Type"),
		}
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&seen.Body); err != nil {
				t.Errorf("request body: %v", err)
			}
		}
		f.mu.Lock()
		f.requests = append(f.requests, seen)
		answer, answerBody := f.answer, f.answerBody
		f.mu.Unlock()

		switch {
		case answer != 0:
			w.WriteHeader(answer)
			io.WriteString(w, answerBody)
		case seen.Authorization != f.auth:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"type":"error","error":{"message":"Access token expired."}}`)
		case strings.HasPrefix(r.URL.Path, "/2.0/repositories/") && isNewAPI(r.URL.Path):
			api.ServeHTTP(w, r)
		default:
			mux.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// answering starts a fake Bitbucket that accepts auth ("Bearer <token>"
// when empty) and, when answer is not zero, answers every request with it
// and body; and returns it with a client that sends the test token.
func answering(t *testing.T, auth string, answer int, body string) (*fakeBitbucket, *Client) {
	t.Helper()
	bb := setup(t, cmp.Or(auth, "Bearer "+testToken))
	bb.answer, bb.answerBody = answer, body
	return bb, NewClient(bb.URL, "http://web.invalid", mustCredentials(t, testToken), isolated(t))
}

// isNewAPI reports whether path is one of the API resources of the api mux:
// the repository, its branches and its files.
func isNewAPI(path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "/2.0/repositories/"), "/")
	return len(parts) == 2 || len(parts) > 2 && (parts[2] == "refs" || parts[2] == "src")
}

func (f *fakeBitbucket) seen() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func basic(email, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+token))
}

func mustCredentials(t *testing.T, s string) Credentials {
	t.Helper()
	c, err := ParseCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		secret   string
		wantAuth string
		wantErr  bool
	}{
		{name: "access token", secret: testToken, wantAuth: "Bearer " + testToken},
		{name: "access token with a newline", secret: testToken + "\n", wantAuth: "Bearer " + testToken},
		{name: "API token", secret: testEmail + ":" + testToken, wantAuth: basic(testEmail, testToken)},
		{name: "empty", secret: " \n", wantErr: true},
		{name: "API token without email", secret: ":" + testToken, wantErr: true},
		{name: "API token without token", secret: testEmail + ":", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCredentials(tt.secret)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("error %q holds the token", err)
				}
				return
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			c.authorize(r)
			if got := r.Header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("got Authorization %q, want %q", got, tt.wantAuth)
			}
		})
	}
}

func TestCredentialsDoNotPrintTheToken(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{testToken, testEmail + ":" + testToken} {
		c := mustCredentials(t, secret)
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", NewClient("", "", c, nil))} {
			if strings.Contains(s, testToken) {
				t.Errorf("printed credentials %q hold the token", s)
			}
		}
	}
}

func TestArchive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		secret   string
		wantAuth string
	}{
		{name: "access token", secret: testToken, wantAuth: "Bearer " + testToken},
		{name: "API token", secret: testEmail + ":" + testToken, wantAuth: basic(testEmail, testToken)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb := setup(t, tt.wantAuth)
			c := NewClient("http://api.invalid", bb.URL+"/", mustCredentials(t, tt.secret), isolated(t))
			rc, err := c.Archive(context.Background(), testRepo, commitA)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := "tar.gz bytes of " + commitA; string(got) != want {
				t.Errorf("got archive %q, want %q", got, want)
			}
			want := []request{{Method: "GET", Path: "/acme/hello/get/" + commitA + ".tar.gz", Authorization: tt.wantAuth}}
			if got := bb.seen(); !reflect.DeepEqual(got, want) {
				t.Errorf("got requests %+v, want %+v", got, want)
			}
		})
	}
}

func TestArchiveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   int
		commit   string
		auth     string
		wantType string
		wantMsg  string
	}{
		{name: "refused token", auth: "Bearer other", wantType: "SourceUnavailable", wantMsg: "401 Unauthorized: Bitbucket refused the token"},
		{name: "forbidden", answer: 403, wantType: "SourceUnavailable", wantMsg: "give it the repository read scope"},
		{name: "unknown commit", commit: "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", wantType: "SourceUnavailable", wantMsg: "404 Not Found: check that the commit exists"},
		{name: "rate limited", answer: 429, wantType: "BitbucketUnavailable", wantMsg: "rate limited (429 Too Many Requests)"},
		{name: "server error", answer: 500, wantType: "BitbucketUnavailable", wantMsg: "server error (500 Internal Server Error)"},
		{name: "unavailable", answer: 503, wantType: "BitbucketUnavailable", wantMsg: "503 Service Unavailable"},
		{name: "other answer", answer: 418, wantType: "", wantMsg: "unexpected answer 418 I'm a teapot"},
		{name: "not a hash", commit: "../../etc/passwd", wantType: "", wantMsg: "is not a commit hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb := setup(t, "Bearer "+testToken)
			bb.answer = tt.answer
			secret := testToken
			if tt.auth != "" {
				bb.auth = tt.auth
			}
			commit := cmp.Or(tt.commit, commitA)
			c := NewClient("", bb.URL, mustCredentials(t, secret), isolated(t))
			rc, err := c.Archive(context.Background(), testRepo, commit)
			if err == nil {
				rc.Close()
				t.Fatal("got an archive, want an error")
			}
			checkError(t, err, tt.wantType, tt.wantMsg)
		})
	}
}

func TestCommit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		hash     string
		answer   int
		body     string
		auth     string
		want     string
		wantType string // of the error; "none" for an error of no state-machine type
		wantMsg  string
	}{
		{name: "twelve digits", hash: commitA[:12], want: commitA},
		{name: "full hash", hash: commitA, want: commitA},
		{name: "upper case", hash: strings.ToUpper(commitA[:12]), want: commitA},
		{name: "unknown commit", hash: "0beec7b5ea3f", wantType: "SourceUnavailable", wantMsg: "404 Not Found: check that the commit exists"},
		{name: "refused token", hash: commitA[:12], auth: "Bearer other", wantType: "SourceUnavailable", wantMsg: "401 Unauthorized: Bitbucket refused the token"},
		{name: "forbidden", hash: commitA[:12], answer: 403, wantType: "SourceUnavailable", wantMsg: "give it the repository read scope"},
		{name: "rate limited", hash: commitA[:12], answer: 429, wantType: "BitbucketUnavailable", wantMsg: "bitbucket resolve commit: rate limited (429 Too Many Requests)"},
		{name: "server error", hash: commitA[:12], answer: 502, wantType: "BitbucketUnavailable", wantMsg: "server error (502 Bad Gateway)"},
		{name: "not JSON", hash: commitA[:12], answer: 200, body: "<html>", wantType: "BitbucketUnavailable", wantMsg: "the answer is not a commit"},
		{name: "another commit", hash: commitA[:12], answer: 200, body: `{"hash":"0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33"}`, wantType: "none", wantMsg: "not a full hash that starts with it"},
		{name: "short answer", hash: commitA[:12], answer: 200, body: `{"hash":"` + commitA[:12] + `"}`, wantType: "none", wantMsg: "not a full hash"},
		{name: "other answer", hash: commitA[:12], answer: 418, wantType: "none", wantMsg: "unexpected answer 418 I'm a teapot"},
		{name: "too short", hash: "e10dae", wantType: "none", wantMsg: "is not a commit hash"},
		{name: "not a hash", hash: "../../statuses", wantType: "none", wantMsg: "is not a commit hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb, c := answering(t, tt.auth, tt.answer, tt.body)
			got, err := c.Commit(context.Background(), testRepo, tt.hash)
			if tt.wantType == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				want := []request{{Method: "GET", Path: "/2.0/repositories/acme/hello/commit/" + strings.ToLower(tt.hash), Authorization: "Bearer " + testToken}}
				if got := bb.seen(); !reflect.DeepEqual(got, want) {
					t.Errorf("got requests %+v, want %+v", got, want)
				}
				return
			}
			if got != "" {
				t.Errorf("got %q with the error, want nothing", got)
			}
			checkError(t, err, strings.TrimSuffix(tt.wantType, "none"), tt.wantMsg)
		})
	}
}

func TestMainBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		repo     pipeline.Repository
		answer   int
		body     string
		auth     string
		wantType string // of the error; "none" for an error of no state-machine type
		wantMsg  string
	}{
		{name: "a branch with a slash", repo: testRepo},
		{name: "unknown repository", repo: pipeline.Repository{Workspace: "acme", Slug: "gone"}, wantType: "SourceUnavailable", wantMsg: "404 Not Found: check that the repository exists"},
		{name: "refused token", repo: testRepo, auth: "Bearer other", wantType: "SourceUnavailable", wantMsg: "source of acme/hello: read the main branch: 401 Unauthorized"},
		{name: "no main branch", repo: testRepo, answer: 200, body: `{"type":"repository","mainbranch":null}`, wantType: "SourceUnavailable", wantMsg: "the repository has no main branch yet"},
		{name: "rate limited", repo: testRepo, answer: 429, wantType: "BitbucketUnavailable", wantMsg: "bitbucket read the main branch: rate limited"},
		{name: "not JSON", repo: testRepo, answer: 200, body: "<html>", wantType: "BitbucketUnavailable", wantMsg: "the answer is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb, c := answering(t, tt.auth, tt.answer, tt.body)
			got, err := c.MainBranch(context.Background(), tt.repo)
			if tt.wantType == "" {
				if want := (pipeline.DefaultBranch{Name: "release/main", Commit: commitA}); err != nil || got != want {
					t.Fatalf("got %+v, %v; want %+v", got, err, want)
				}
				want := []request{
					{Method: "GET", Path: "/2.0/repositories/acme/hello", Authorization: "Bearer " + testToken},
					{Method: "GET", Path: "/2.0/repositories/acme/hello/refs/branches/release%2Fmain", Authorization: "Bearer " + testToken},
				}
				if got := bb.seen(); !reflect.DeepEqual(got, want) {
					t.Errorf("got requests %+v, want %+v", got, want)
				}
				return
			}
			checkError(t, err, strings.TrimSuffix(tt.wantType, "none"), tt.wantMsg)
		})
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		commit   string
		path     string
		answer   int
		want     string
		wantPath string // the path requested, escaped
		wantMiss bool   // an error wrapping fs.ErrNotExist
		wantType string
		wantMsg  string
	}{
		{name: "at the root", commit: commitA, path: "stackflow.yml", want: "environments: []\n", wantPath: "/src/" + commitA + "/stackflow.yml"},
		{name: "in a folder, escaped", commit: strings.ToUpper(commitA), path: "deploy/config file.toml", want: "x = 1\n", wantPath: "/src/" + commitA + "/deploy/config%20file.toml"},
		{name: "missing", commit: commitA, path: "samconfig.toml", wantMiss: true, wantMsg: "read a file samconfig.toml at e10dae2 of acme/hello"},
		{name: "too large", commit: commitA, path: "big.bin", wantType: "none", wantMsg: "larger than 1024 KiB"},
		{name: "out of the tree", commit: commitA, path: "../secrets", wantType: "none", wantMsg: "is not a path in the repository"},
		{name: "not a hash", commit: "main", path: "stackflow.yml", wantType: "none", wantMsg: "is not a commit hash"},
		{name: "forbidden", commit: commitA, path: "stackflow.yml", answer: 403, wantType: "SourceUnavailable", wantMsg: "give it the repository read scope"},
		{name: "server error", commit: commitA, path: "stackflow.yml", answer: 500, wantType: "BitbucketUnavailable", wantMsg: "bitbucket read a file: server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb, c := answering(t, "", tt.answer, "")
			got, err := c.File(context.Background(), testRepo, tt.commit, tt.path)
			switch {
			case tt.wantMiss:
				if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("got %v, want fs.ErrNotExist and %q", err, tt.wantMsg)
				}
			case tt.wantType != "":
				checkError(t, err, strings.TrimSuffix(tt.wantType, "none"), tt.wantMsg)
			default:
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				if seen := bb.seen(); len(seen) != 1 || seen[0].Path != "/2.0/repositories/acme/hello"+tt.wantPath {
					t.Errorf("got requests %+v, want GET %s", seen, tt.wantPath)
				}
			}
		})
	}
}

func TestArchiveNoAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c := NewClient(srv.URL, srv.URL, mustCredentials(t, testToken), isolated(t))
	_, err := c.Archive(context.Background(), testRepo, commitA)
	checkError(t, err, "BitbucketUnavailable", "bitbucket download archive: no answer")
	err = c.PostStatus(context.Background(), testRepo, commitA, BuildStatus{Key: "stackflow", State: "FAILED"})
	checkError(t, err, "BitbucketUnavailable", "bitbucket post build status: no answer")
	_, err = c.Commit(context.Background(), testRepo, commitA[:12])
	checkError(t, err, "BitbucketUnavailable", "bitbucket resolve commit: no answer")
}

// TestArchiveRedirectKeepsCredentials checks that a download redirected to
// another host does not take the token there.
func TestArchiveRedirectKeepsCredentials(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var storageAuth []string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		storageAuth = append(storageAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, "archive from storage")
	}))
	t.Cleanup(storage.Close)
	// The same server under another host name.
	storageURL := strings.Replace(storage.URL, "127.0.0.1", "localhost", 1)

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, storageURL+"/blob", http.StatusFound)
	}))
	t.Cleanup(web.Close)

	c := NewClient("", web.URL, mustCredentials(t, testToken), isolated(t))
	rc, err := c.Archive(context.Background(), testRepo, commitA)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "archive from storage" {
		t.Errorf("got %q, want %q", got, "archive from storage")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{""}; !reflect.DeepEqual(storageAuth, want) {
		t.Errorf("storage saw Authorization %q, want %q", storageAuth, want)
	}
}

func TestPostStatus(t *testing.T) {
	t.Parallel()
	longURL := "https://example.com/" + strings.Repeat("u", 450)
	tests := []struct {
		name     string
		secret   string
		wantAuth string
		status   BuildStatus
		wantBody map[string]any
	}{
		{
			name:     "all fields, access token",
			secret:   testToken,
			wantAuth: "Bearer " + testToken,
			status: BuildStatus{
				Key: "stackflow", State: "INPROGRESS", Name: "stackflow: main",
				URL:         "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn",
				Description: "Delivering e10dae2", RefName: "main",
			},
			wantBody: map[string]any{
				"key": "stackflow", "state": "INPROGRESS", "name": "stackflow: main",
				"url":         "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn",
				"description": "Delivering e10dae2", "refname": "main",
			},
		},
		{
			name:     "key and state only, API token",
			secret:   testEmail + ":" + testToken,
			wantAuth: basic(testEmail, testToken),
			status:   BuildStatus{Key: strings.Repeat("k", 40), State: "SUCCESSFUL"},
			wantBody: map[string]any{"key": strings.Repeat("k", 40), "state": "SUCCESSFUL"},
		},
		{
			name:     "fitted to Bitbucket's limits",
			secret:   testToken,
			wantAuth: "Bearer " + testToken,
			status: BuildStatus{
				Key: "stackflow", State: "FAILED", Name: strings.Repeat("n", 300),
				URL: longURL, Description: strings.Repeat("é", 300), RefName: "main",
			},
			wantBody: map[string]any{
				"key": "stackflow", "state": "FAILED", "name": strings.Repeat("n", 253) + "…",
				"description": strings.Repeat("é", 254) + "…", "refname": "main",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb := setup(t, tt.wantAuth)
			c := NewClient(bb.URL+"/", "http://web.invalid", mustCredentials(t, tt.secret), isolated(t))
			if err := c.PostStatus(context.Background(), testRepo, commitA, tt.status); err != nil {
				t.Fatal(err)
			}
			want := []request{{
				Method:        "POST",
				Path:          "/2.0/repositories/acme/hello/commit/" + commitA + "/statuses/build",
				Authorization: tt.wantAuth,
				ContentType:   "application/json",
				Body:          tt.wantBody,
			}}
			if got := bb.seen(); !reflect.DeepEqual(got, want) {
				t.Errorf("got requests\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestPostStatusErrors(t *testing.T) {
	t.Parallel()
	valid := BuildStatus{Key: "stackflow", State: "INPROGRESS"}
	tests := []struct {
		name         string
		status       BuildStatus
		commit       string
		auth         string
		answer       int
		answerBody   string
		wantType     string
		wantRejected bool
		wantMsg      string
		wantRequests int
	}{
		{name: "no key", status: BuildStatus{State: "FAILED"}, wantMsg: "build status has no key"},
		{name: "key too long", status: BuildStatus{Key: strings.Repeat("k", 41), State: "FAILED"}, wantMsg: "41 characters long, want at most 40"},
		{name: "unknown state", status: BuildStatus{Key: "stackflow", State: "DONE"}, wantMsg: `state "DONE"`},
		{name: "not a hash", status: valid, commit: "main", wantMsg: `"main" is not a commit hash`},
		{name: "refused token", status: valid, auth: "Bearer other", wantRejected: true, wantMsg: "401 Unauthorized: check that the token secret holds a valid", wantRequests: 1},
		{name: "forbidden", status: valid, answer: 403, wantRejected: true, wantMsg: `only the creator of the status with key "stackflow" may overwrite it`, wantRequests: 1},
		{name: "unknown commit", status: valid, commit: "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", wantRejected: true, wantMsg: "404 Not Found: check that the commit exists", wantRequests: 1},
		{name: "bad request", status: valid, answer: 400, answerBody: `{"type":"error","error":{"message":"key: Ensure this value has at most 40 characters","fields":{"key":["too long"]}}}`, wantRejected: true, wantMsg: "400 Bad Request: key: Ensure this value has at most 40 characters", wantRequests: 1},
		{name: "bad request, no JSON", status: valid, answer: 400, answerBody: `<html>`, wantRejected: true, wantMsg: "at e10dae2: 400 Bad Request", wantRequests: 1},
		{name: "rate limited", status: valid, answer: 429, wantType: "BitbucketUnavailable", wantMsg: "rate limited", wantRequests: 1},
		{name: "server error", status: valid, answer: 502, wantType: "BitbucketUnavailable", wantMsg: "server error (502 Bad Gateway)", wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bb := setup(t, cmp.Or(tt.auth, "Bearer "+testToken))
			bb.answer, bb.answerBody = tt.answer, tt.answerBody
			c := NewClient(bb.URL, "", mustCredentials(t, testToken), isolated(t))
			err := c.PostStatus(context.Background(), testRepo, cmp.Or(tt.commit, commitA), tt.status)
			checkError(t, err, tt.wantType, tt.wantMsg)
			if got := errors.Is(err, ErrStatusRejected); got != tt.wantRejected {
				t.Errorf("errors.Is(err, ErrStatusRejected) = %v, want %v", got, tt.wantRejected)
			}
			if got := len(bb.seen()); got != tt.wantRequests {
				t.Errorf("got %d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"one too long", 11, "one too lo…"},
		{"cut at a space", 8, "cut at…"},
		{"ünïcödé", 4, "ünï…"},
		{"anything", 0, ""},
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := Truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d): got %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// checkError checks that err is the state-machine error named wantType (or
// none of them when wantType is empty), that its message contains wantMsg,
// and that it does not hold the token.
func checkError(t *testing.T, err error, wantType, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want one")
	}
	var gotType string
	var su *pipeline.SourceUnavailable
	var bu *pipeline.BitbucketUnavailable
	switch {
	case errors.As(err, &su):
		gotType = "SourceUnavailable"
	case errors.As(err, &bu):
		gotType = "BitbucketUnavailable"
	}
	if gotType != wantType {
		t.Errorf("got error type %q (%v), want %q", gotType, err, wantType)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("got error %q, want it to contain %q", err, wantMsg)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error %q holds the token", err)
	}
}

// isolated returns a client with its own transport. httptest.Server.Close
// closes the idle connections of http.DefaultTransport, which would break
// the requests of tests running in parallel.
func isolated(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
