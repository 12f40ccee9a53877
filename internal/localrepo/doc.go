// Package localrepo reads an app from a local git repository the way a push
// delivers it, for `stackflow local` and `stackflow plan`: Open finds the
// app's folder and checks, before anything is started, that it exists and
// is in a git repository (saying what to run when not); Head is the commit a
// push delivers; Changes lists what the work tree changes in the app's
// folder; Snapshot makes a commit of the work tree as it is without touching
// the index, the work tree or any ref; Extract writes a commit's tree of the
// app's folder, as the pipeline's source step unpacks it.
//
// It runs git; it never changes the user's index, work tree or refs.
package localrepo
