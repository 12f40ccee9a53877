package toolchain

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"strings"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Go versions as the go command orders them (cmd/go/internal/gover): "1.21"
// is a language version, older than its release candidates, which are
// older than its first release "1.21.0". Before Go 1.21, "1.20" meant
// "1.20.0".

type version struct {
	major, minor, patch string
	kind                string // "", "alpha", "beta", "rc"
	pre                 string
}

// parse parses a version without the "go" prefix; it returns the zero
// version when x is malformed.
func parse(x string) version {
	var v version
	var ok bool
	if v.major, x, ok = cutInt(x); !ok {
		return version{}
	}
	if x == "" {
		v.minor, v.patch = "0", "0"
		return v
	}
	if x[0] != '.' {
		return version{}
	}
	if v.minor, x, ok = cutInt(x[1:]); !ok {
		return version{}
	}
	if x == "" {
		// A missing patch is ".0" before Go 1.21; from 1.21 on it is the
		// language version, older than any release of it.
		if cmpInt(v.minor, "21") < 0 {
			v.patch = "0"
		}
		return v
	}
	if x[0] == '.' {
		if v.patch, x, ok = cutInt(x[1:]); !ok || x != "" {
			return version{}
		}
		return v
	}
	i := 0
	for i < len(x) && (x[i] < '0' || x[i] > '9') {
		if x[i] < 'a' || x[i] > 'z' {
			return version{}
		}
		i++
	}
	if i == 0 {
		return version{}
	}
	v.kind, x = x[:i], x[i:]
	if x == "" {
		return v
	}
	if v.pre, x, ok = cutInt(x); !ok || x != "" {
		return version{}
	}
	return v
}

// cutInt cuts a decimal number without leading zeros off the front of x.
func cutInt(x string) (n, rest string, ok bool) {
	i := 0
	for i < len(x) && '0' <= x[i] && x[i] <= '9' {
		i++
	}
	if i == 0 || (x[0] == '0' && i != 1) {
		return "", "", false
	}
	return x[:i], x[i:], true
}

// cmpInt compares decimal numbers of any length; "" is less than any.
func cmpInt(x, y string) int {
	if x == y {
		return 0
	}
	if len(x) != len(y) {
		return cmp.Compare(len(x), len(y))
	}
	return cmp.Compare(x, y)
}

// Compare returns -1, 0 or +1 as Go version x is older than, the same as or
// newer than y. Versions are written without "go" ("1.22", "1.22rc1",
// "1.22.3"); malformed ones are older than every valid one.
func Compare(x, y string) int {
	vx, vy := parse(x), parse(y)
	if c := cmpInt(vx.major, vy.major); c != 0 {
		return c
	}
	if c := cmpInt(vx.minor, vy.minor); c != 0 {
		return c
	}
	if c := cmpInt(vx.patch, vy.patch); c != 0 {
		return c
	}
	if c := cmp.Compare(vx.kind, vy.kind); c != 0 { // "" < alpha < beta < rc
		return c
	}
	return cmpInt(vx.pre, vy.pre)
}

// valid reports whether x is a well-formed version.
func valid(x string) bool { return parse(x) != version{} }

// isLang reports whether x is a language version such as "1.22", which
// names no release of its own.
func isLang(x string) bool {
	v := parse(x)
	return v != version{} && v.patch == "" && v.kind == "" && v.pre == ""
}

// fromToolchain returns the version of a toolchain name such as "go1.22.3"
// or "go1.22.3-custom", or "" when name is not one.
func fromToolchain(name string) string {
	if strings.ContainsAny(name, `\/`) {
		return ""
	}
	var v string
	switch {
	case strings.HasPrefix(name, "go"):
		v = name[2:]
	case strings.Contains(name, "-go"):
		v = name[strings.Index(name, "-go")+3:]
	default:
		return ""
	}
	v, _, _ = strings.Cut(v, "-")
	if !valid(v) {
		return ""
	}
	return v
}

// Requirement is what a go.mod or go.work asks of the toolchain.
type Requirement struct {
	// Go is the "go" line's version, "" when there is none.
	Go string
	// Toolchain is the "toolchain" line's name, such as "go1.22.3"; "" when
	// there is none.
	Toolchain string
}

// Min is the least version of the go command that satisfies r, spelled as
// the go command would download it: a language version from 1.21 on means
// its first release ("1.22" -> "1.22.0"). It is "" when r asks for nothing.
func (r Requirement) Min() string {
	need := ""
	if v := fromToolchain(r.Toolchain); v != "" {
		need = v
	}
	if r.Go != "" && Compare(r.Go, need) > 0 {
		need = r.Go
		if isLang(need) && Compare(need, "1.21") >= 0 {
			need += ".0"
		}
	}
	return need
}

// ParseRequirement reads the "go" and "toolchain" directives of a go.mod or
// go.work file; file names it in errors, which are *pipeline.ConfigInvalid.
// Other directives are ignored.
func ParseRequirement(file string, data []byte) (Requirement, error) {
	var r Requirement
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	depth := 0 // inside a ( ... ) block
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if depth > 0 {
			if fields[0] == ")" {
				depth--
			}
			continue
		}
		if fields[len(fields)-1] == "(" {
			depth++
			continue
		}
		verb := fields[0]
		if verb != "go" && verb != "toolchain" {
			continue
		}
		if len(fields) != 2 {
			return Requirement{}, &pipeline.ConfigInvalid{File: file, Line: n, Problem: "usage: " + verb + " <version>"}
		}
		arg := strings.Trim(fields[1], `"`+"`")
		switch verb {
		case "go":
			if r.Go != "" {
				return Requirement{}, &pipeline.ConfigInvalid{File: file, Line: n, Problem: "repeated go statement"}
			}
			if !valid(arg) {
				return Requirement{}, &pipeline.ConfigInvalid{File: file, Line: n,
					Problem: fmt.Sprintf("invalid go version %q", arg), Fix: "write it as 1.23.0"}
			}
			r.Go = arg
		case "toolchain":
			if r.Toolchain != "" {
				return Requirement{}, &pipeline.ConfigInvalid{File: file, Line: n, Problem: "repeated toolchain statement"}
			}
			if fromToolchain(arg) == "" {
				return Requirement{}, &pipeline.ConfigInvalid{File: file, Line: n,
					Problem: fmt.Sprintf("invalid toolchain %q", arg), Fix: "write it as go1.23.0"}
			}
			r.Toolchain = arg
		}
	}
	if err := sc.Err(); err != nil {
		return Requirement{}, fmt.Errorf("read %s: %w", file, err)
	}
	return r, nil
}
