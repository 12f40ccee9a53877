package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// MaxDiffstatPages bounds the pages of a diffstat that ChangedFiles reads
// (Bitbucket answers up to 500 files a page). A change larger than that
// is ErrTooManyChanges.
const MaxDiffstatPages = 20

// ErrTooManyChanges is a diffstat longer than MaxDiffstatPages pages: the
// caller counts every file as changed.
var ErrTooManyChanges = errors.New("the diffstat is longer than stackflow reads")

// diffstatPage is a page of Bitbucket's paginated_diffstats.
type diffstatPage struct {
	Values []struct {
		Status string      `json:"status"`
		Old    *commitFile `json:"old"`
		New    *commitFile `json:"new"`
	} `json:"values"`
	Next string `json:"next"`
}

type commitFile struct {
	Path string `json:"path"`
}

// ChangedFiles returns the files that commit to changed since commit
// from, from the repository root, through Bitbucket's diffstat (GET
// /2.0/repositories/{workspace}/{slug}/diffstat/{to}..{from}: Bitbucket
// names the commit with the changes first, the opposite of git). With
// the default topic=true, the diffstat is of to against the merge base of
// to and from, which for a push that moved a branch forward is from
// itself, and for a new branch compared with the default branch's head is
// what the branch added. A renamed file is listed at both its old and new
// paths. Pages are followed through their next links, which must stay on
// the API's address (the token goes with them); past MaxDiffstatPages
// pages it returns ErrTooManyChanges.
//
// It returns a *pipeline.SourceUnavailable when Bitbucket refuses the
// token or knows neither commit, and a *pipeline.BitbucketUnavailable
// when it is rate limited, failing or out of reach.
func (c *Client) ChangedFiles(ctx context.Context, repo pipeline.Repository, from, to string) ([]string, error) {
	const op = "read the diffstat"
	if !isHash(from) || !isHash(to) {
		return nil, fmt.Errorf("%s of %s: %q and %q must be commit hashes", op, repo.FullName(), from, to)
	}
	next := c.repoURL(repo) + "/diffstat/" + strings.ToLower(to) + ".." + strings.ToLower(from)
	seen := map[string]bool{}
	files := []string{}
	for page := 0; next != ""; page++ {
		if page == MaxDiffstatPages {
			return nil, fmt.Errorf("%s %s..%s of %s: %w (%d pages)", op, pipeline.ShortSHA(to), pipeline.ShortSHA(from), repo.FullName(), ErrTooManyChanges, MaxDiffstatPages)
		}
		if !strings.HasPrefix(next, c.apiURL+"/") {
			return nil, &pipeline.BitbucketUnavailable{Operation: op, Reason: "the next page is not on " + c.apiURL}
		}
		var p diffstatPage
		if err := c.getJSON(ctx, op, repo, next, &p); err != nil {
			return nil, err
		}
		for _, v := range p.Values {
			for _, f := range []*commitFile{v.Old, v.New} {
				if f != nil && f.Path != "" && !seen[f.Path] {
					seen[f.Path] = true
					files = append(files, f.Path)
				}
			}
		}
		if p.Next != "" {
			if _, err := url.Parse(p.Next); err != nil {
				return nil, &pipeline.BitbucketUnavailable{Operation: op, Reason: "the next page's link does not parse"}
			}
		}
		next = p.Next
	}
	return files, nil
}
