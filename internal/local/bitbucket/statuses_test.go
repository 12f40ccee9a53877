package bitbucket

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stackflow/stackflow/internal/bitbucket"
)

// short is a Status without its times, for comparisons.
type short struct {
	Commit, Key, State, Name, URL, Description, RefName string
}

func shorten(list []Status) []short {
	out := []short{}
	for _, s := range list {
		out = append(out, short{s.Commit, s.Key, s.State, s.Name, s.URL, s.Description, s.RefName})
	}
	return out
}

// TestPostStatus posts statuses with the real client and reads them back:
// the same key overwrites, History keeps them all in order, and OnStatus
// sees each as it arrives.
func TestPostStatus(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	var mu sync.Mutex
	var seen []Status
	srv := setup(t, f.dir, Options{OnStatus: func(s Status) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
	}})
	head, parent := f.commits[2], f.commits[1]
	consoleURL := "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn"
	posts := []struct {
		commit string
		status bitbucket.BuildStatus
		secret string
	}{
		{head, bitbucket.BuildStatus{Key: "stackflow", State: "INPROGRESS", Name: "stackflow: main", URL: consoleURL, Description: "Delivering", RefName: "main"}, testToken},
		{head[:7], bitbucket.BuildStatus{Key: "stackflow", State: "SUCCESSFUL", Name: "stackflow: main", URL: consoleURL, Description: "Delivered", RefName: "main"}, "ada@example.com:" + testToken},
		{head, bitbucket.BuildStatus{Key: "checks", State: "FAILED"}, testToken},
		{parent, bitbucket.BuildStatus{Key: "stackflow", State: "STOPPED"}, testToken},
	}
	for _, p := range posts {
		if err := client(t, srv, p.secret).PostStatus(context.Background(), testRepo, p.commit, p.status); err != nil {
			t.Fatal(err)
		}
	}

	wantHistory := []short{
		{head, "stackflow", "INPROGRESS", "stackflow: main", consoleURL, "Delivering", "main"},
		{head, "stackflow", "SUCCESSFUL", "stackflow: main", consoleURL, "Delivered", "main"},
		{head, "checks", "FAILED", "", "", "", ""},
		{parent, "stackflow", "STOPPED", "", "", "", ""},
	}
	history := srv.History()
	if got := shorten(history); !reflect.DeepEqual(got, wantHistory) {
		t.Errorf("got history\n%+v\nwant\n%+v", got, wantHistory)
	}
	mu.Lock()
	if got := shorten(seen); !reflect.DeepEqual(got, wantHistory) {
		t.Errorf("OnStatus got\n%+v\nwant\n%+v", got, wantHistory)
	}
	mu.Unlock()
	if len(history) == 4 && !history[1].Created.Equal(history[0].Created) {
		t.Errorf("overwritten status: got created %v, want the first post's %v", history[1].Created, history[0].Created)
	}

	for _, tt := range []struct {
		sha  string
		want []short
	}{
		{head, []short{wantHistory[2], wantHistory[1]}},
		{head[:10], []short{wantHistory[2], wantHistory[1]}},
		{parent, []short{wantHistory[3]}},
		{f.commits[0], []short{}},
	} {
		if got := shorten(srv.Statuses(tt.sha)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Statuses(%s): got\n%+v\nwant\n%+v", tt.sha, got, tt.want)
		}
	}

	// Read back through the API, as Bitbucket serves them.
	var one statusJSON
	getJSON(t, srv.URL()+"/2.0/repositories/acme/hello/commit/"+head+"/statuses/build/stackflow", http.StatusOK, &one)
	if one.State != "SUCCESSFUL" || one.Commit.Hash != head || one.RefName != "main" {
		t.Errorf("got status %+v, want SUCCESSFUL on %s of main", one, head)
	}
	var list struct {
		Size   int          `json:"size"`
		Values []statusJSON `json:"values"`
	}
	getJSON(t, srv.URL()+"/2.0/repositories/acme/hello/commit/"+head+"/statuses", http.StatusOK, &list)
	if list.Size != 2 || len(list.Values) != 2 || list.Values[0].Key != "checks" {
		t.Errorf("got list %+v, want checks and stackflow", list)
	}
	getJSON(t, srv.URL()+"/2.0/repositories/acme/hello/commit/"+head+"/statuses/build/nothing", http.StatusNotFound, nil)
}

func getJSON(t *testing.T, url string, wantCode int, v any) {
	t.Helper()
	resp := get(t, url, "Bearer "+testToken)
	defer resp.Body.Close()
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s: got status %d, want %d", url, resp.StatusCode, wantCode)
	}
	if v == nil {
		return
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// apiErrorBody is Bitbucket's error body.
type apiErrorBody struct {
	Type  string `json:"type"`
	Error struct {
		Message string              `json:"message"`
		Fields  map[string][]string `json:"fields"`
	} `json:"error"`
}

// TestPostStatusValidation posts raw bodies and checks the answers
// Bitbucket gives them, and that only accepted statuses are recorded.
func TestPostStatusValidation(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	head := f.commits[2]
	path := "/2.0/repositories/acme/hello/commit/" + head + "/statuses/build"
	bearer := "Bearer " + testToken
	tests := []struct {
		name      string
		path      string
		auth      string
		body      string
		want      int
		wantMsg   string
		wantField string
	}{
		{name: "key and state", body: `{"key":"stackflow","state":"INPROGRESS"}`, want: 201},
		{name: "every field", body: `{"key":"stackflow","state":"SUCCESSFUL","name":"stackflow: main","url":"http://127.0.0.1:4566/run","description":"Delivered","refname":"main"}`, want: 201},
		{name: "abbreviated commit", path: "/2.0/repositories/acme/hello/commit/" + head[:12] + "/statuses/build", body: `{"key":"stackflow","state":"FAILED"}`, want: 201},
		{name: "key of 40", body: `{"key":"` + strings.Repeat("k", 40) + `","state":"STOPPED"}`, want: 201},
		{name: "key of 41", body: `{"key":"` + strings.Repeat("k", 41) + `","state":"STOPPED"}`, want: 400, wantMsg: "key: Ensure this value has at most 40 characters (it has 41).", wantField: "key"},
		{name: "key of 40 accented letters", body: `{"key":"` + strings.Repeat("é", 40) + `","state":"STOPPED"}`, want: 201},
		{name: "no key", body: `{"state":"STOPPED"}`, want: 400, wantMsg: "key: This field is required.", wantField: "key"},
		{name: "empty key", body: `{"key":"","state":"STOPPED"}`, want: 400, wantMsg: "key: This field is required.", wantField: "key"},
		{name: "no state", body: `{"key":"stackflow"}`, want: 400, wantMsg: "state: This field is required.", wantField: "state"},
		{name: "unknown state", body: `{"key":"stackflow","state":"DONE"}`, want: 400, wantMsg: `state: "DONE" is not a valid choice`, wantField: "state"},
		{name: "state in lower case", body: `{"key":"stackflow","state":"successful"}`, want: 400, wantMsg: `state: "successful" is not a valid choice`, wantField: "state"},
		{name: "url of 449", body: `{"key":"stackflow","state":"FAILED","url":"https://example.com/` + strings.Repeat("u", 449-20) + `"}`, want: 201},
		{name: "url of 450", body: `{"key":"stackflow","state":"FAILED","url":"https://example.com/` + strings.Repeat("u", 450-20) + `"}`, want: 400, wantMsg: "url: Ensure this value has fewer than 450 characters (it has 450).", wantField: "url"},
		{name: "not a URL", body: `{"key":"stackflow","state":"FAILED","url":"console"}`, want: 400, wantMsg: "url: Enter a valid URL.", wantField: "url"},
		{name: "name of 254", body: `{"key":"stackflow","state":"FAILED","name":"` + strings.Repeat("n", 254) + `"}`, want: 201},
		{name: "name of 255", body: `{"key":"stackflow","state":"FAILED","name":"` + strings.Repeat("n", 255) + `"}`, want: 400, wantMsg: "name: Ensure this value has fewer than 255 characters (it has 255).", wantField: "name"},
		{name: "two problems", body: `{"state":"DONE"}`, want: 400, wantMsg: `key: This field is required. state: "DONE" is not a valid choice`, wantField: "state"},
		{name: "not JSON", body: `key=stackflow&state=FAILED`, want: 400, wantMsg: "the body must be a JSON object"},
		{name: "key not a string", body: `{"key":42,"state":"FAILED"}`, want: 400, wantMsg: "the body must be a JSON object"},
		{name: "unknown commit", path: "/2.0/repositories/acme/hello/commit/0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33/statuses/build", body: `{"key":"stackflow","state":"FAILED"}`, want: 404, wantMsg: "Commit not found"},
		{name: "another repository", path: "/2.0/repositories/acme/other/commit/" + head + "/statuses/build", body: `{"key":"stackflow","state":"FAILED"}`, want: 404, wantMsg: "Repository acme/other not found"},
		{name: "no credentials", auth: "-", body: `{"key":"stackflow","state":"FAILED"}`, want: 401, wantMsg: "Access denied"},
		{name: "wrong token", auth: "Bearer not-the-token", body: `{"key":"stackflow","state":"FAILED"}`, want: 401, wantMsg: "Access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, f.dir, Options{})
			p := path
			if tt.path != "" {
				p = tt.path
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL()+p, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			switch tt.auth {
			case "":
				req.Header.Set("Authorization", bearer)
			case "-":
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("got Content-Type %q, want application/json", ct)
			}

			wantRecorded := 0
			if tt.want == http.StatusCreated {
				wantRecorded = 1
				var got statusJSON
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				var posted map[string]string
				_ = json.Unmarshal([]byte(tt.body), &posted)
				if got.Type != "build" || got.Key != posted["key"] || got.State != posted["state"] || got.Commit.Hash != head || got.URL != posted["url"] {
					t.Errorf("got answer %s, want the posted status on %s", body, head)
				}
			} else {
				var got apiErrorBody
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("answer %s: %v", body, err)
				}
				if got.Type != "error" || !strings.Contains(got.Error.Message, tt.wantMsg) {
					t.Errorf("got answer %s, want type error with a message containing %q", body, tt.wantMsg)
				}
				if tt.wantField != "" && len(got.Error.Fields[tt.wantField]) == 0 {
					t.Errorf("got fields %v, want a problem with %s", got.Error.Fields, tt.wantField)
				}
			}
			if got := len(srv.History()); got != wantRecorded {
				t.Errorf("got %d statuses recorded, want %d", got, wantRecorded)
			}
		})
	}
}

// TestClientPostStatusErrors checks that the real client reads the
// server's refusals as it reads Bitbucket's.
func TestClientPostStatusErrors(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	tests := []struct {
		name    string
		secret  string
		commit  string
		wantMsg string
	}{
		{name: "refused token", secret: "not-the-token", commit: f.commits[2], wantMsg: "401 Unauthorized"},
		{name: "unknown commit", secret: testToken, commit: "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", wantMsg: "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := client(t, srv, tt.secret).PostStatus(context.Background(), testRepo, tt.commit, bitbucket.BuildStatus{Key: "stackflow", State: "FAILED"})
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantMsg)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
	if got := len(srv.History()); got != 0 {
		t.Errorf("got %d statuses recorded, want none", got)
	}
}
