package toolchain

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		x, y string
		want int
	}{
		{"1.21", "1.21.0", -1},
		{"1.21", "1.21rc1", -1},
		{"1.21rc1", "1.21.0", -1},
		{"1.21rc1", "1.21rc2", -1},
		{"1.21beta1", "1.21rc1", -1},
		{"1.22rc1", "1.21.9", 1},
		{"1.21.10", "1.21.9", 1},
		{"1.10", "1.9", 1},
		{"1.20", "1.20.0", 0},
		{"1.20rc1", "1.20", -1},
		{"1.22.3", "1.22.3", 0},
		{"1.26.8", "1.99.1", -1},
		{"bad", "1.0", -1},
		{"1.21.01", "1.21.0", -1}, // malformed: leading zero
	}
	for _, tt := range tests {
		t.Run(tt.x+"_vs_"+tt.y, func(t *testing.T) {
			t.Parallel()
			if got := Compare(tt.x, tt.y); got != tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.x, tt.y, got, tt.want)
			}
			if got := Compare(tt.y, tt.x); got != -tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.y, tt.x, got, -tt.want)
			}
		})
	}
}

func TestRequirementMin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  Requirement
		want string
	}{
		{"language version from 1.21 means its first release", Requirement{Go: "1.22"}, "1.22.0"},
		{"1.21 means 1.21.0", Requirement{Go: "1.21"}, "1.21.0"},
		{"before 1.21 the language version is kept", Requirement{Go: "1.20"}, "1.20"},
		{"release", Requirement{Go: "1.22.3"}, "1.22.3"},
		{"release candidate", Requirement{Go: "1.22rc1"}, "1.22rc1"},
		{"newer toolchain line wins", Requirement{Go: "1.21", Toolchain: "go1.22.3"}, "1.22.3"},
		{"toolchain with a suffix", Requirement{Go: "1.21", Toolchain: "go1.22.3-custom"}, "1.22.3"},
		{"older toolchain line loses", Requirement{Go: "1.23.1", Toolchain: "go1.22.3"}, "1.23.1"},
		{"toolchain line equal to the language version", Requirement{Go: "1.22", Toolchain: "go1.22.0"}, "1.22.0"},
		{"nothing", Requirement{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.req.Min(); got != tt.want {
				t.Errorf("%+v.Min() = %q, want %q", tt.req, got, tt.want)
			}
		})
	}
}

func TestParseRequirement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    Requirement
		wantErr string
	}{
		{
			name: "go and toolchain",
			data: "module example.com/m\n\ngo 1.22 // the language\n\ntoolchain go1.22.3\n",
			want: Requirement{Go: "1.22", Toolchain: "go1.22.3"},
		},
		{
			name: "CRLF, BOM, blocks and comments",
			data: "\uFEFF// go 1.99\r\nmodule example.com/m\r\n\r\ngo 1.21.5\r\n\r\nrequire (\r\n\tgo 1.30 // not a directive\r\n\texample.com/x v1.0.0\r\n)\r\n",
			want: Requirement{Go: "1.21.5"},
		},
		{name: "no go line", data: "module example.com/m\n", want: Requirement{}},
		{name: "repeated go", data: "go 1.21\ngo 1.22\n", wantErr: "go.mod:2: repeated go statement"},
		{name: "invalid go", data: "module m\ngo 1.21.x\n", wantErr: `go.mod:2: invalid go version "1.21.x"`},
		{name: "invalid toolchain", data: "go 1.21\ntoolchain default\n", wantErr: `go.mod:2: invalid toolchain "default"`},
		{name: "go without version", data: "go\n", wantErr: "go.mod:1: usage: go <version>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRequirement("go.mod", []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
