// Package buildcache keeps function zips in a directory by build key, so
// that stackflow local, whose artifact bucket is new on every run, builds
// the pipeline's own functions only when their sources changed. It is the
// local adapter of packager.BuildCache.
//
// Each entry is two files named by the build key: KEY.zip, the zip, and
// KEY.json, its SHA-256 and size, written after the zip. Both are written
// to temporary files in the directory and renamed into place
// (cachedir.WriteAtomic), so a reader never sees half a file, and
// processes sharing the directory (two stackflow local, or test packages
// run at once) may load and save the same keys: the same key makes the
// same zip, and the last rename wins. A zip whose SHA-256 or size is not
// the recorded one (cut short by a crash, altered) is removed on load and
// built again. The directory is kept under a size: after each save the
// least recently used entries go.
package buildcache
