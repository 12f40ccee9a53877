// Package gocache keeps the Go module cache (GOMODCACHE) and the Go build
// cache (GOCACHE) of the checks and package steps between runs, in the
// artifact bucket, and, the same way, pip's, npm's and uv's download
// caches (keyed per branch: see DownloadsKey). In Lambda every cold start
// has an empty /tmp: without these caches every run downloads every module
// and compiles the standard library and every dependency again.
//
// A cache is stored per branch and per step, as a gzip-compressed tar and
// a small JSON manifest beside it that names the inputs it is good for
// (the step, go.sum, the toolchain, the platform; see Key): a copy for
// other inputs is not restored, and the next save replaces it.
//
//	cache/<workspace>/<slug>/<branch>/<step>/gomodcache.tar.gz, gomodcache.json
//	cache/<workspace>/<slug>/<branch>/<step>/gocache.tar.gz,    gocache.json
//
// One copy per branch, step and part lets the trusted grant step name
// every object a step may read or write before the step runs: the checks
// and package steps, which run the commit's code, reach the bucket only
// through presigned URLs for those keys, and what they save is staged and
// copied to these keys by the publish step (see package staging).
//
// as CI caches are scoped (pipeline.CacheScope): a run restores its own
// branch's, else its default branch's, and saves only its own branch's, so
// what a branch's code (its checks run it) puts into a cache never reaches
// the default branch's runs nor another branch's. A warm Lambda's local
// directory is emptied before a run of another repository or branch uses
// it, for the same reason.
//
// A Session restores a cache before the step's commands run, unless the
// local directory already holds what is stored (a warm Lambda), and saves
// it after the step succeeded when it grew materially: never when it is
// unchanged (the manifest's hash is the same), not for a few new entries
// (see MinGrowth), and never over Config.MaxBytes. Restores unpack with
// package archive into a staging directory first, so a broken download
// never leaves half a module in the cache.
//
// Both caches stay valid when restored this way: the build cache is
// addressed by content and checks each output's size, not its time, and
// the module cache's extracted modules are trusted once their directory
// exists (go.sum is checked against the .ziphash files kept beside them).
package gocache
