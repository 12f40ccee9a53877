package config

import (
	"fmt"
	"path"
	"strings"
)

// Change is what a push changed, as the environments' branches and tags
// and the path filters (paths, paths_ignore) of apps and environments
// read it.
type Change struct {
	// Branch is the pushed branch, or Tag the pushed tag: one of them.
	Branch string
	Tag    string
	// Files are the files the push changed, from the repository root
	// (a renamed file's old and new paths both). Read only when
	// Everything is empty; nil with an empty Everything means every file.
	Files []string
	// Everything, when set, says why every file counts as changed: "a
	// forced push", "Bitbucket truncated the push", "a new branch with no
	// default branch to compare with".
	Everything string
	// App is the app of a repository with several (stackflow.yml's apps)
	// whose environments are planned; empty for a repository of one app.
	// Its stacks are <slug>-<app>-<environment> by default, and the
	// commands its plan names (stackflow promote) give --app.
	App string
}

// Ref is the pushed branch or tag, for people: "main", "tag v1.2.0".
func (ch Change) Ref() string {
	if ch.Tag != "" {
		return "tag " + ch.Tag
	}
	return ch.Branch
}

// every reports whether every file counts as changed, and why.
func (ch Change) every() (string, bool) {
	switch {
	case ch.Everything != "":
		return ch.Everything, true
	case ch.Files == nil:
		return "every file counts as changed", true
	}
	return "", false
}

// filter decides whether ch passes the path filters paths (nil: every
// file) and ignore: whether one of its files matches paths and no
// pattern of ignore. why says which file did, or why none did. Tags are
// releases of what they point at, so path filters do not apply to them.
func (ch Change) filter(paths, ignore []string) (ok bool, why string) {
	if ch.Tag != "" {
		return true, ch.Ref() + " (path filters do not apply to tags)"
	}
	if len(paths) == 0 && len(ignore) == 0 {
		return true, ""
	}
	if why, all := ch.every(); all {
		return true, why
	}
	watched := false
	for _, f := range ch.Files {
		if len(paths) > 0 {
			if _, in := matchAny(paths, f); !in {
				continue
			}
		}
		watched = true
		if _, ignored := matchAny(ignore, f); !ignored {
			return true, "changed " + f
		}
	}
	switch {
	case len(ch.Files) == 0:
		return false, "no file changed"
	case watched:
		return false, "only changes under paths_ignore (" + strings.Join(ignore, ", ") + ")"
	case len(paths) > 0:
		return false, "no change under " + strings.Join(paths, ", ")
	default:
		return false, "only changes under paths_ignore (" + strings.Join(ignore, ", ") + ")"
	}
}

// DeploysTag reports whether one of the environment's tag patterns
// matches tag.
func (e Environment) DeploysTag(tag string) bool {
	for _, p := range e.GitTags {
		if ok, _ := path.Match(p, tag); ok {
			return true
		}
	}
	return false
}

// Reach is whether a push reaches an environment, or an app, and why.
type Reach struct {
	Name string
	// Deploys is true when the push deploys the environment (delivers
	// the app).
	Deploys bool
	// Why says why, for people: "branch main matches [main]; changed
	// services/api/main.go", "no change under services/api/**".
	Why string
	// Filtered is true when the ref is one the environment takes but
	// the path filters left this push out.
	Filtered bool
	// Paths is what the path filters said: "changed api/main.go", "no
	// change under api/**"; empty when there were none to apply.
	Paths string
}

// reach decides whether ch deploys e.
func (e Environment) reach(ch Change) Reach {
	r := Reach{Name: e.Name}
	switch {
	case ch.Tag != "" && !e.DeploysTag(ch.Tag):
		if len(e.GitTags) == 0 {
			r.Why = "takes no tags"
		} else {
			r.Why = fmt.Sprintf("tag %s matches none of %s", ch.Tag, listed(e.GitTags))
		}
		return r
	case ch.Tag != "":
		r.Why = fmt.Sprintf("tag %s matches %s", ch.Tag, listed(e.GitTags))
	case !e.Deploys(ch.Branch):
		if len(e.Branches) == 0 {
			r.Why = "takes no branches"
		} else {
			r.Why = fmt.Sprintf("branch %s matches none of %s", ch.Branch, listed(e.Branches))
		}
		return r
	default:
		r.Why = fmt.Sprintf("branch %s matches %s", ch.Branch, listed(e.Branches))
	}
	ok, why := ch.filter(e.Paths, e.PathsIgnore)
	if ch.Tag == "" && why != "" {
		r.Why += "; " + why
		r.Paths = why
	}
	r.Deploys, r.Filtered = ok, !ok
	return r
}

// Reaches says, for each environment of c in order, whether a push
// that made the change ch deploys it, and why.
func (c *Config) Reaches(ch Change) []Reach {
	var out []Reach
	for _, e := range c.Environments {
		out = append(out, e.reach(ch))
	}
	return out
}

// AppReach decides whether a push that made the change ch delivers the
// app a, by its path filters alone: paths (default "<path>/**") and
// paths_ignore. A tag is delivered to every app, whose environments then
// decide (ReachApps).
func (a App) reach(ch Change) Reach {
	ok, why := ch.filter(a.Watched(), a.PathsIgnore)
	r := Reach{Name: a.Name, Deploys: ok, Why: why, Filtered: !ok, Paths: why}
	if !ok {
		r.Why = "skipped: " + why
	}
	return r
}

// ReachApps says, for each app of c (a root stackflow.yml with apps) in
// order, whether a push that made the change ch delivers it, and why.
// appConfig gives an app's own stackflow.yml (the default branch's, in
// the pipeline), or nil when it has none. A branch reaches an app when
// its changes pass the app's path filters; a tag, when one of the app's
// environments takes it.
func (c *Config) ReachApps(ch Change, appConfig func(App) *Config) []Reach {
	var out []Reach
	for _, a := range c.Apps {
		r := a.reach(ch)
		if ch.Tag != "" {
			r = Reach{Name: a.Name}
			var takers []string
			if ac := appConfig(a); ac != nil {
				for _, e := range ac.Environments {
					if e.DeploysTag(ch.Tag) {
						takers = append(takers, e.Name)
					}
				}
			}
			if len(takers) > 0 {
				r.Deploys, r.Why = true, fmt.Sprintf("tag %s deploys to %s", ch.Tag, strings.Join(takers, ", "))
			} else {
				r.Why = fmt.Sprintf("skipped: no environment of %s takes tag %s", a.Name, ch.Tag)
			}
		}
		out = append(out, r)
	}
	return out
}

// TakesTag reports whether an environment of c (of any of its apps, for
// a root file with apps, through appConfig) takes the tag.
func (c *Config) TakesTag(tag string, appConfig func(App) *Config) bool {
	if c == nil {
		return false
	}
	for _, e := range c.Environments {
		if e.DeploysTag(tag) {
			return true
		}
	}
	for _, r := range c.ReachApps(Change{Tag: tag}, appConfig) {
		if r.Deploys {
			return true
		}
	}
	return false
}
