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
	// Unused are the Action patterns of its own policies' Allow
	// statements that no allowed request matched, as the policies write
	// them; UnusedManaged those of the AWS managed policies it names, each
	// with the policy's name (many serve what the local AWS does not run
	// through its API: logs, traces).
	Unused        []string
	UnusedManaged []string
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
		policies, by, _ := a.rolePoliciesBy(arn)
		for i, p := range policies {
			for _, s := range p.Statement {
				if s.Effect != "Allow" {
					continue
				}
				for _, pat := range s.Action {
					if seen[pat] || slices.ContainsFunc(u.Used, func(act string) bool { return glob(pat, act, true) }) {
						continue
					}
					seen[pat] = true
					if by[i] != "" {
						u.UnusedManaged = append(u.UnusedManaged, pat+" ("+by[i]+")")
					} else {
						u.Unused = append(u.Unused, pat)
					}
				}
			}
		}
		slices.Sort(u.UnusedManaged)
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
		if len(u.UnusedManaged) > 0 {
			fmt.Fprintf(w, "  granted by AWS managed policies, never used (%d): %s\n", len(u.UnusedManaged), orNone(u.UnusedManaged))
		}
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
