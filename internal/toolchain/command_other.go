//go:build !unix

package toolchain

import "os/exec"

// killGroup leaves cmd as it is: process groups are a Unix notion.
func killGroup(*exec.Cmd) {}
