//go:build !linux

package reaper

// Adopt does nothing outside Linux, where Lambda runs.
func Adopt() error { return nil }

// KillDescendants does nothing outside Linux, where Lambda runs.
func KillDescendants() (int, error) { return 0, nil }
