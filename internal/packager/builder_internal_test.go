package packager

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSelectMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		runtime, buildMethod string
		want                 method
		wantWhy              string
	}{
		{"provided.al2023", "go1.x", method{"provided", "go1.x"}, ""},
		{"python3.11", "", method{"python", ""}, ""},
		{"python3.14", "python3.14", method{"python", ""}, ""},
		{"python3.12", "python-uv", method{"python", "python-uv"}, ""},
		{"nodejs20.x", "", method{"nodejs", ""}, ""},
		{"nodejs24.x", "esbuild", method{"nodejs", "esbuild"}, ""},
		{"nodejs22.x", "nodejs22.x", method{"nodejs", ""}, ""},
		{"provided.al2023", "", method{}, "no Metadata BuildMethod: only Go functions with BuildMethod go1.x are built on provided.al2023"},
		{"provided.al2023", "makefile", method{}, `Metadata BuildMethod "makefile": only Go functions with BuildMethod go1.x are built`},
		{"go1.x", "go1.x", method{}, "runtime go1.x is retired"},
		{"python3.11", "go1.x", method{}, "runtime python3.11 cannot run a Go binary"},
		{"python3.10", "", method{}, "runtime python3.10 is not built"},
		{"nodejs18.x", "", method{}, "runtime nodejs18.x is not built"},
		{"java21", "", method{}, "runtime java21 is not built"},
		{"", "", method{}, "no Runtime"},
		{"nodejs22.x", "python3.12", method{}, `Metadata BuildMethod "python3.12" does not build a nodejs22.x function: leave it out, or use esbuild`},
		{"python3.13", "esbuild", method{}, `Metadata BuildMethod "esbuild" does not build a python3.13 function: leave it out, or use python-uv`},
	}
	for _, tt := range tests {
		got, why := selectMethod(tt.runtime, tt.buildMethod)
		if got != tt.want || (tt.wantWhy == "") != (why == "") || !strings.Contains(why, tt.wantWhy) {
			t.Errorf("selectMethod(%q, %q) = %v, %q; want %v, %q", tt.runtime, tt.buildMethod, got, why, tt.want, tt.wantWhy)
		}
	}
}

func TestPlatformTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		runtime, arch string
		want          string
	}{
		{"python3.11", "x86_64", "any linux_x86_64 manylinux1_x86_64 manylinux2010_x86_64 manylinux2014_x86_64 manylinux_2_17_x86_64"},
		{"python3.11", "arm64", "any linux_aarch64 manylinux2014_aarch64 manylinux_2_17_aarch64"},
		{"python3.12", "arm64", "any linux_aarch64 manylinux2014_aarch64 manylinux_2_17_aarch64 manylinux_2_28_aarch64 manylinux_2_34_aarch64"},
		{"python3.14", "x86_64", "any linux_x86_64 manylinux1_x86_64 manylinux2010_x86_64 manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_28_x86_64 manylinux_2_34_x86_64"},
	}
	for _, tt := range tests {
		if got := strings.Join(platformTags(tt.runtime, tt.arch), " "); got != tt.want {
			t.Errorf("platformTags(%s, %s) = %s, want %s", tt.runtime, tt.arch, got, tt.want)
		}
	}
}

func TestWheelNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pure bool
	}{
		{"docopt-0.6.2-py2.py3-none-any.whl", true},
		{"MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", false},
		{"ujson-1.35-cp311-cp311-linux_x86_64.whl", false},
		{"thing-1.0-py3-abi3-any.whl", false},
		{"docopt-0.6.2.tar.gz", false},
	}
	for _, tt := range tests {
		if got := pureWheel(tt.name); got != tt.pure {
			t.Errorf("pureWheel(%s) = %t, want %t", tt.name, got, tt.pure)
		}
	}
	for req, want := range map[string]string{"docopt==0.6.2": "docopt", "Foo_Bar.baz[x]>=1": "foo-bar-baz", " MarkupSafe<4": "markupsafe"} {
		if got := requirementName(req); got != want {
			t.Errorf("requirementName(%q) = %q, want %q", req, got, want)
		}
	}
}

func TestEsbuildArgs(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for _, f := range []string{"src/app.ts", "lib/other.js"} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := []byte(`{"name": "x", "dependencies": {"zod": "1", "ms": "2"}}`)
	tests := []struct {
		name    string
		handler string
		props   []prop
		want    string
		wantErr string
	}{
		{name: "defaults from the handler", handler: "src/app.handler",
			want: "src/app.ts --bundle --platform=node --outdir=../out --target=es2020 --format=cjs --minify"},
		{name: "properties as flags, in order", handler: "src/app.handler",
			props: []prop{{"Minify", false}, {"Target", "es2022"}, {"Sourcemap", true}, {"Format", "esm"},
				{"OutExtension", []string{".js=.mjs"}}, {"MainFields", "module,main"}, {"Loader", []string{".png=file"}},
				{"External", []string{"@aws-sdk/*"}}, {"UseNpmCi", true}, {"Platform", "browser"}, {"KeepNames", true}},
			want: "src/app.ts --bundle --platform=node --outdir=../out --target=es2022 --sourcemap --format=esm " +
				"--out-extension:.js=.mjs --main-fields=module,main --loader:.png=file --external:@aws-sdk/* --keep-names"},
		{name: "entry points with and without suffix", handler: "ignored.handler",
			props: []prop{{"EntryPoints", []string{"lib/other", "src/app.ts"}}},
			want:  "lib/other.js src/app.ts --bundle --platform=node --outdir=../out --target=es2020 --format=cjs --minify"},
		{name: "every dependency external", handler: "src/app.handler",
			props: []prop{{"External", []string{"./node_modules/*"}}},
			want:  "--external:zod --external:ms src/app.ts --bundle --platform=node --outdir=../out --target=es2020 --format=cjs --minify"},
		{name: "missing entry point", handler: "nope.handler", wantErr: "entry point nope does not exist"},
		{name: "missing entry point with suffix", props: []prop{{"EntryPoints", []string{"src/app.js"}}}, wantErr: "entry point src/app.js does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unit{handler: tt.handler, props: tt.props, method: method{"nodejs", "esbuild"}}
			args, err := esbuildArgs(u, src, "../out", manifest)
			if got := strings.Join(args, " "); got != tt.want || (err != nil) != (tt.wantErr != "") ||
				(err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestMovedHandler(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	for _, f := range []string{"app.js", "b/c.js"} {
		if err := os.MkdirAll(filepath.Join(out, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ handler, want string }{
		{"src/app.handler", "app.handler"},
		{"app.handler", ""},
		{"b/c.handler", ""},
		{"src/b/c.handler", "c.handler"},
		{"/opt/nodejs/x.handler", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := movedHandler(tt.handler, out); got != tt.want {
			t.Errorf("movedHandler(%q) = %q, want %q", tt.handler, got, tt.want)
		}
	}
}

func TestSnake(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"MainFields": "main_fields", "Sourcemap": "sourcemap", "UseNpmCi": "use_npm_ci", "OutExtension": "out_extension", "EntryPoints": "entry_points"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestExcluded(t *testing.T) {
	t.Parallel()
	var got []string
	for _, name := range []string{"__pycache__", "app.pyc", "x.so", ".venv", "venv", "app.py", "lib", "env", "environment.py", "requirements.txt", "MarkupSafe.egg-info"} {
		if excluded(name, pythonExcludes) {
			got = append(got, name)
		}
	}
	want := []string{"__pycache__", "app.pyc", "x.so", ".venv", "venv", "env", "MarkupSafe.egg-info"}
	if !slices.Equal(got, want) {
		t.Errorf("excluded %q, want %q", got, want)
	}
}

// With no uv on PATH, python-uv fails saying how to install it.
func TestNoUV(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	j := &job{Service: &Service{}}
	err := (&uvBuilder{j: j}).find(t.Context(), &unit{resource: resource{name: "Fn"}})
	if err == nil || !strings.Contains(err.Error(), "package Fn: Metadata BuildMethod python-uv needs uv, and there is no uv on PATH: install it from PyPI (pip install uv==") {
		t.Errorf("got %v, want a PackageFailed saying how to install uv", err)
	}
}

// elfFile writes the header of an ELF shared object for machine m.
func elfFile(t *testing.T, dir, name string, m uint16) string {
	t.Helper()
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	h[16] = 3 // ET_DYN
	h[18], h[19] = byte(m), byte(m>>8)
	h[20] = 1             // EV_CURRENT
	h[52], h[58] = 64, 64 // e_ehsize, e_shentsize
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, h, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestForeignBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	x86, arm := elfFile(t, dir, "x86.so", 62), elfFile(t, dir, "arm.so", 183)
	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(text, []byte("not ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, arch, want string
	}{
		{"C extension compiled on the build machine", x86, "arm64", "pkg/_speedups.cpython-312-x86_64-linux-gnu.so"},
		{"node-gyp build", x86, "arm64", "node_modules/addon/build/Release/addon.node"},
		{"versioned library", arm, "x86_64", "pkg.libs/libz.so.1"},
		{"the target's", arm, "arm64", ""},
		{"prebuilt for another platform", x86, "arm64", ""},
		{"per-platform package", arm, "x86_64", ""},
		{"not ELF", text, "arm64", ""},
	}
	names := map[string]string{
		"prebuilt for another platform": "node_modules/bufferutil/prebuilds/linux-x64/bufferutil.node",
		"per-platform package":          "node_modules/@node-rs/crc32-linux-arm64-gnu/crc32.node",
		"the target's":                  "pkg/_speedups.so",
		"not ELF":                       "x/text.so",
	}
	for _, tt := range tests {
		name := tt.want
		if n, ok := names[tt.name]; ok {
			name = n
		}
		if got := foreignBinary([]zipEntry{{name: "app.py", path: text}, {name: name, path: tt.path}}, tt.arch); got != tt.want {
			t.Errorf("%s: foreignBinary(%s for %s) = %q, want %q", tt.name, name, tt.arch, got, tt.want)
		}
	}
}

func TestArchitecture(t *testing.T) {
	t.Parallel()
	seq := func(items ...string) *yaml.Node {
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, i := range items {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: i})
		}
		return n
	}
	tests := []struct {
		name     string
		node     *yaml.Node
		override string
		want     string
		wantErr  bool
	}{
		{"SAM's default", nil, "", "x86_64", false},
		{"arm64", seq("arm64"), "", "arm64", false},
		{"a layer's BuildArchitecture", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "arm64"}, "", "arm64", false},
		{"Arch amd64 overrides", seq("arm64"), "amd64", "x86_64", false},
		{"Arch arm64 overrides the default", nil, "arm64", "arm64", false},
		{"two", seq("arm64", "x86_64"), "", "", true},
		{"unknown", seq("sparc"), "", "", true},
	}
	for _, tt := range tests {
		got, err := architecture(tt.node, "Architectures", tt.override)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: got %q, %v; want %q (error %t)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
