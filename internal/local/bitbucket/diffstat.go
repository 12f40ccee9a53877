package bitbucket

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// diffstatPageLen is how many files a page of the local diffstat holds:
// Bitbucket's default is 500; a small one here makes the pipeline's paging
// run in every rehearsal that changes a few files.
const diffstatPageLen = 5

// handleDiffstat answers GET .../diffstat/{spec} as Bitbucket does: spec is
// a commit or "<source>..<destination>" (the commit with the changes
// first); with topic=true (the default) the diffstat is of source against
// the merge base of the two, with topic=false against destination itself;
// a single commit is compared with its first parent. Renames are found
// unless renames=false. The answer is paginated_diffstats, diffstatPageLen
// entries a page, with next links (?page=N). Paths are from the app's
// folder, as in archives, and only its files are listed.
func (s *Server) handleDiffstat(w http.ResponseWriter, r *http.Request) {
	if !s.ours(r) {
		apiError(w, http.StatusNotFound, "Repository not found", nil)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	src, dst, two := strings.Cut(r.PathValue("spec"), "..")
	source, err := s.git.resolve(ctx, src)
	if err == nil && two {
		dst, err = s.git.resolve(ctx, dst)
	}
	if errors.Is(err, errNoCommit) {
		apiError(w, http.StatusNotFound, "Commit not found", nil)
		return
	}
	if err != nil {
		s.internal(w, "resolve commit", err)
		return
	}
	base := dst
	switch {
	case !two:
		c, err := s.git.commit(ctx, source)
		if err != nil {
			s.internal(w, "read commit", err)
			return
		}
		base = "4b825dc642cb6eb9a060e54bf8d69288fbee4904" // the empty tree: a root commit adds every file
		if len(c.Parents) > 0 {
			base = c.Parents[0]
		}
	case q.Get("topic") != "false":
		out, err := s.git.run(ctx, "merge-base", source, dst)
		if err != nil {
			apiError(w, http.StatusNotFound, "No merge base between "+source+" and "+dst, nil)
			return
		}
		base = strings.TrimSpace(string(out))
	}
	args := []string{"diff", "--name-status", "-z", "--no-ext-diff"}
	if q.Get("renames") == "false" {
		args = append(args, "--no-renames")
	} else {
		args = append(args, "-M")
	}
	if s.prefix != "" {
		args = append(args, "--relative="+s.prefix)
	}
	out, err := s.git.run(ctx, append(args, base, source)...)
	if err != nil {
		s.internal(w, "diff", err)
		return
	}
	type file struct {
		Type        string `json:"type"`
		Path        string `json:"path"`
		EscapedPath string `json:"escaped_path"`
	}
	type entry struct {
		Type         string `json:"type"`
		Status       string `json:"status"`
		LinesAdded   int    `json:"lines_added"`
		LinesRemoved int    `json:"lines_removed"`
		Old          *file  `json:"old"`
		New          *file  `json:"new"`
	}
	f := func(p string) *file { return &file{Type: "commit_file", Path: p, EscapedPath: p} }
	var entries []entry
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	for i := 0; i < len(fields) && fields[i] != ""; {
		code := fields[i]
		e := entry{Type: "diffstat"}
		switch code[0] {
		case 'R', 'C':
			if i+2 >= len(fields) {
				i = len(fields)
				continue
			}
			e.Status, e.Old, e.New = "renamed", f(fields[i+1]), f(fields[i+2])
			i += 3
		default:
			if i+1 >= len(fields) {
				i = len(fields)
				continue
			}
			p := fields[i+1]
			switch code[0] {
			case 'A':
				e.Status, e.New = "added", f(p)
			case 'D':
				e.Status, e.Old = "removed", f(p)
			default:
				e.Status, e.Old, e.New = "modified", f(p), f(p)
			}
			i += 2
		}
		entries = append(entries, e)
	}
	page := 1
	if p := q.Get("page"); p != "" {
		if page, err = strconv.Atoi(p); err != nil || page < 1 {
			apiError(w, http.StatusBadRequest, "Invalid page", nil)
			return
		}
	}
	lo, hi := min((page-1)*diffstatPageLen, len(entries)), min(page*diffstatPageLen, len(entries))
	body := struct {
		PageLen int     `json:"pagelen"`
		Size    int     `json:"size"`
		Page    int     `json:"page"`
		Values  []entry `json:"values"`
		Next    string  `json:"next,omitempty"`
	}{PageLen: diffstatPageLen, Size: len(entries), Page: page, Values: append([]entry{}, entries[lo:hi]...)}
	if hi < len(entries) {
		next := *r.URL
		nq := next.Query()
		nq.Set("page", strconv.Itoa(page+1))
		next.RawQuery = nq.Encode()
		body.Next = s.url + (&url.URL{Path: next.Path, RawQuery: next.RawQuery}).String()
	}
	writeJSON(w, http.StatusOK, body)
}
