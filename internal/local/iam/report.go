package iam

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// RoleUsage is what a role was granted and what it used.
type RoleUsage struct {
	Role string
	// Used are the actions its sessions were allowed, sorted.
	Used []string
	// Unused are the Action patterns of its policies' Allow statements
	// that no allowed request matched, as the policies write them.
	Unused []string
}

// Usage reports, for each role the authority knows, the actions its
// sessions used and the actions its policies grant that none used:
// least privilege, shown.
func (a *Authority) Usage() []RoleUsage {
	a.mu.RLock()
	roles := sortedKeys(a.roles)
	used := map[string][]string{}
	for r, acts := range a.used {
		used[r] = sortedKeys(acts)
	}
	a.mu.RUnlock()
	var out []RoleUsage
	for _, arn := range roles {
		u := RoleUsage{Role: arn, Used: used[arn]}
		seen := map[string]bool{}
		for _, p := range a.identityPolicies(arn) {
			for _, s := range p.Statement {
				if s.Effect != "Allow" {
					continue
				}
				for _, pat := range s.Action {
					if seen[pat] || slices.ContainsFunc(u.Used, func(act string) bool { return glob(pat, act, true) }) {
						continue
					}
					seen[pat] = true
					u.Unused = append(u.Unused, pat)
				}
			}
		}
		slices.Sort(u.Unused)
		out = append(out, u)
	}
	return out
}

// WriteReport writes Usage as `stackflow local --iam-report` prints it.
func (a *Authority) WriteReport(w io.Writer) {
	for _, u := range a.Usage() {
		fmt.Fprintf(w, "%s\n", u.Role)
		fmt.Fprintf(w, "  used (%d): %s\n", len(u.Used), orNone(u.Used))
		fmt.Fprintf(w, "  granted, never used (%d): %s\n", len(u.Unused), orNone(u.Unused))
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
