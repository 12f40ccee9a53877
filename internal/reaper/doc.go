// Package reaper keeps what the code under test starts from outliving its
// invocation. A check or a build may leave a process behind (a server a
// test forgot, or one that daemonized on purpose: setsid, a double fork),
// and in a warm Lambda that process would still run during the next
// invocation, another run's, of another branch or repository, where it
// could read that run's workspace and credentials or change its build.
//
// Adopt makes the handler the subreaper of everything it starts (Linux's
// PR_SET_CHILD_SUBREAPER): an orphaned descendant is reparented to it
// rather than to init, so it stays findable. KillDescendants, called when
// an invocation ends, stops and kills every descendant and reaps them.
// Only descendants: stackflow local runs the handlers as processes of the
// same user beside everything else, which must live on.
package reaper
