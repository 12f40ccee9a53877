package packager

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// Needs is what the functions and layers of an app's template are built
// and run with, as the checks step provides it.
type Needs struct {
	// Runtimes are the runtimes of the Python and Node.js functions
	// (Runtime, or Globals' Runtime) and the runtimes that layers are built
	// for (Metadata.BuildMethod), each once, sorted: "nodejs22.x",
	// "python3.12".
	Runtimes []string
	// GoDirs are the code directories (CodeUri) of the Go functions
	// (Metadata.BuildMethod go1.x), absolute, each once, in template order.
	GoDirs []string
}

// ReadNeeds reads what the template file (a path in the repository at
// root) is built with. The template's mistakes are the package step's
// business: ReadNeeds fails only on a template it cannot read at all.
func ReadNeeds(root, file string) (Needs, error) {
	t, err := readTemplate(root, file)
	if err != nil {
		return Needs{}, err
	}
	var n Needs
	add := func(rt string) {
		if fam := family(rt); (fam == "python" || fam == "nodejs") && !slices.Contains(n.Runtimes, rt) {
			n.Runtimes = append(n.Runtimes, rt)
		}
	}
	for _, r := range t.resources() {
		switch r.typ {
		case "AWS::Serverless::Function":
			rt, _ := literal(t.prop(r, "Runtime"))
			add(rt)
			if bm, _ := literal(get(r.node, "Metadata", "BuildMethod")); bm == "go1.x" {
				n.addGoDir(t, t.prop(r, "CodeUri"))
			}
		case "AWS::Serverless::LayerVersion":
			bm, _ := literal(get(r.node, "Metadata", "BuildMethod"))
			add(bm)
		}
	}
	slices.Sort(n.Runtimes)
	return n, nil
}

// addGoDir adds the directory that uri (a CodeUri, nil for the template's
// folder) names in the repository, when it is one.
func (n *Needs) addGoDir(t *template, uri *yaml.Node) {
	p := "."
	if uri != nil {
		var ok bool
		if p, ok = localPath(uri); !ok {
			return
		}
	}
	dir, err := within(t.root, t.dir, p)
	if err == nil && !slices.Contains(n.GoDirs, dir) {
		n.GoDirs = append(n.GoDirs, dir)
	}
}
