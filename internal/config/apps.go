package config

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// App is one entry of "apps" in the root stackflow.yml of a repository
// that holds several apps:
//
//	apps:
//	  - name: api
//	    path: services/api          # its stackflow.yml, samconfig.toml and template
//	  - name: web
//	    path: services/web
//	    after: [api]                # delivered once api's run has succeeded
//	    paths: [services/web/**, shared/**]
//	    paths_ignore: ["**/*.md"]
//
// Each app is delivered by a run of its own, with its own commit status,
// stacks, locks and releases; its folder's stackflow.yml says, as a
// single app's does, which checks run and where it deploys.
type App struct {
	// Name is "name", required: unique, at most 24 of a-z, 0-9 and "-".
	// It names the app's runs, its commit status (<StatusKey>-<name>) and
	// its default stacks (<slug>-<name>-<environment>).
	Name string
	// Path is "path", required: the app's folder from the repository
	// root, which holds its stackflow.yml and samconfig.toml. Its checks
	// run there, and its template is read from there.
	Path string
	// After is "after": apps whose runs of the same push must succeed
	// before this app's run starts, because its stacks use theirs.
	After []string
	// Paths is "paths": globs of files from the repository root (see
	// MatchPath); a push of a branch delivers the app only when it
	// changed a file one of them matches. Default: "<path>/**".
	Paths []string
	// PathsIgnore is "paths_ignore": globs of files whose changes alone
	// do not deliver the app.
	PathsIgnore []string

	line int
}

// Watched is the app's paths: Paths, else everything under its folder.
func (a App) Watched() []string {
	if len(a.Paths) > 0 {
		return a.Paths
	}
	return []string{a.Path + "/**"}
}

var (
	appKeys = []string{"name", "path", "after", "paths", "paths_ignore"}
	appName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$`)
)

// MaxAppName is the longest app name: the commit status key
// "<StatusKey>-<app>" must fit Bitbucket's 40 characters.
const MaxAppName = 24

func decodeApps(n *yaml.Node) ([]App, error) {
	items, err := list(n, "apps", "- name: api")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errAt(resolve(n), "apps: is empty", "list the apps, such as - {name: api, path: services/api}, or remove the key")
	}
	var apps []App
	names, paths := map[string]int{}, map[string]int{}
	for i, item := range items {
		p := index("apps", i)
		a, err := decodeApp(item, p)
		if err != nil {
			return nil, err
		}
		if first, ok := names[a.Name]; ok {
			return nil, errAt(valueOf(item, "name"), fmt.Sprintf("%s.name: %q is already the name of apps[%d]", p, a.Name, first),
				"give each app its own name")
		}
		names[a.Name] = i
		for other, j := range paths {
			if a.Path == other || strings.HasPrefix(a.Path, other+"/") || strings.HasPrefix(other, a.Path+"/") {
				return nil, errAt(valueOf(item, "path"), fmt.Sprintf("%s.path: %s and apps[%d]'s %s overlap", p, a.Path, j, other),
					"give each app a folder of its own, neither inside the other")
			}
		}
		paths[a.Path] = i
		apps = append(apps, a)
	}
	for i, a := range apps {
		for j, dep := range a.After {
			if _, ok := names[dep]; !ok {
				return nil, errAt(resolve(resolve(valueOf(items[i], "after")).Content[j]),
					fmt.Sprintf("%s: %q is not one of the apps", index(index("apps", i)+".after", j), dep),
					"name an app of this file ("+strings.Join(appNames(apps), ", ")+")")
			}
			if dep == a.Name {
				return nil, errAt(valueOf(items[i], "after"), fmt.Sprintf("%s.after: %s cannot come after itself", index("apps", i), a.Name),
					"remove it from its own after")
			}
		}
	}
	if cycle := afterCycle(apps); cycle != nil {
		i := slices.IndexFunc(apps, func(a App) bool { return a.Name == cycle[0] })
		return nil, errAt(valueOf(items[i], "after"), fmt.Sprintf("apps: %s wait for each other in a circle", strings.Join(cycle, " -> ")),
			"remove one of these after entries: one app must be delivered first")
	}
	return apps, nil
}

func decodeApp(item *yaml.Node, p string) (App, error) {
	fields, err := object(item, p, appKeys)
	if err != nil {
		return App{}, err
	}
	a := App{line: resolve(item).Line}
	n, err := required(fields, item, p, "name", "name the app, such as name: api")
	if err != nil {
		return a, err
	}
	if a.Name, err = text(n, p+".name"); err != nil {
		return a, err
	}
	if !appName.MatchString(a.Name) {
		return a, errAt(resolve(n), fmt.Sprintf("%s.name: %q is not a valid app name", p, a.Name),
			fmt.Sprintf("use at most %d lowercase letters, digits and dashes, such as api", MaxAppName))
	}
	n, err = required(fields, item, p, "path", "give the app's folder, such as path: services/"+a.Name)
	if err != nil {
		return a, err
	}
	s, err := nonEmpty(n, p+".path")
	if err != nil {
		return a, err
	}
	clean, ok := repoPath(s)
	if !ok || strings.ContainsAny(clean, "*?[") {
		return a, errAt(resolve(n), fmt.Sprintf("%s.path: %q is not a folder inside the repository", p, s),
			"write the app's folder from the repository root, such as services/"+a.Name)
	}
	a.Path = clean
	if n, ok := fields["after"]; ok {
		if a.After, err = stringList(n, p+".after", "[api]"); err != nil {
			return a, err
		}
	}
	if a.Paths, a.PathsIgnore, err = pathFilters(fields, p); err != nil {
		return a, err
	}
	return a, nil
}

func appNames(apps []App) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.Name
	}
	return out
}

// afterCycle returns a circle of apps that wait for each other, or nil.
func afterCycle(apps []App) []string {
	deps := map[string][]string{}
	for _, a := range apps {
		deps[a.Name] = a.After
	}
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(n string) []string {
		switch state[n] {
		case open:
			i := slices.Index(stack, n)
			return append(slices.Clone(stack[i:]), n)
		case done:
			return nil
		}
		state[n] = open
		stack = append(stack, n)
		for _, d := range deps[n] {
			if c := visit(d); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, a := range apps {
		if c := visit(a.Name); c != nil {
			return c
		}
	}
	return nil
}

// App is the app named name of c's apps.
func (c *Config) App(name string) (App, bool) {
	if c == nil {
		return App{}, false
	}
	i := slices.IndexFunc(c.Apps, func(a App) bool { return a.Name == name })
	if i < 0 {
		return App{}, false
	}
	return c.Apps[i], true
}

// File is the path of the app's file name (stackflow.yml,
// samconfig.toml) from the repository root.
func (a App) File(name string) string { return path.Join(a.Path, name) }
