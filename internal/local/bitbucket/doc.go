// Package bitbucket is the local stand-in for Bitbucket Cloud that
// `stackflow local` runs in place of bitbucket.org and api.bitbucket.org.
// It lives with the local runner, never in a handler: the handlers talk to
// it through internal/bitbucket exactly as they talk to Bitbucket, given its
// URL as both the API and the web address.
//
// A Server is backed by a local git repository and follows Bitbucket Cloud's
// documented protocol on one loopback port (127.0.0.1:0):
//
//   - GET /{workspace}/{slug}/get/{sha}.tar.gz serves the commit's source
//     archive, made by `git archive --format=tar.gz
//     --prefix=<workspace>-<slug>-<sha12>/`. When the app is a folder of a
//     larger repository (Options.Dir below the repository's top), only that
//     folder is archived, as the archive's root. Only commits of the
//     repository are served: the sha must be hexadecimal and name a commit.
//   - POST /2.0/repositories/{workspace}/{slug}/commit/{sha}/statuses/build
//     validates a build status as Bitbucket does (a JSON object; key
//     required and at most 40 characters; state INPROGRESS, SUCCESSFUL,
//     FAILED or STOPPED; url under 450 and name under 255 characters),
//     records it (the same key on the same commit overwrites, and every
//     status is kept in History) and answers 201 with the status; an
//     invalid one is 400 with Bitbucket's error body
//     {"type":"error","error":{"message":...,"fields":{...}}}.
//   - GET .../commit/{sha}/statuses/build/{key} and GET
//     .../commit/{sha}/statuses read them back.
//   - GET /2.0/repositories/{workspace}/{slug}/commit/{sha} answers the
//     commit that sha, whole or abbreviated (pull-request events carry 12
//     characters), names, with its full hash, message and parents; 404
//     "Commit not found" when it names none.
//   - GET /2.0/repositories/{workspace}/{slug} answers the repository,
//     with its main branch (mainbranch.name; null when it has none):
//     Options.DefaultBranch or SetDefaultBranch, else the first of main,
//     master and trunk the repository has. GET
//     .../refs/branches/{name} answers a branch and the commit at its
//     head. GET .../src/{commit}/{path} answers a file's raw content at a
//     commit (a hash or a branch name), or a folder's entries as a page of
//     commit_file and commit_directory objects; 404 "No such file or
//     directory" otherwise. These are what the pipeline reads stackflow.yml
//     from the default branch with. Paths are from the app's folder, as in
//     archives.
//   - GET /2.0/repositories/{workspace}/{slug}/diffstat/{spec} answers
//     the files a commit changed, computed by git: spec is a commit
//     (against its first parent) or "<source>..<destination>", the commit
//     with the changes first as Bitbucket has it, against their merge base
//     (topic=true, the default) or the destination (topic=false), with
//     renames unless renames=false; paginated_diffstats of five files a
//     page (Bitbucket's are 500), linked by next.
//   - Every request needs the server's token, as "Authorization: Bearer
//     <token>" (an access token) or Basic auth with any user name and the
//     token as password (an API token); otherwise 401. An unknown
//     repository or commit is 404.
//
// It also plays Bitbucket's part towards the pipeline's webhook: PushPayload
// builds a repo:push payload for a commit from git, and Deliver POSTs it
// with Bitbucket's headers (X-Event-Key, X-Request-UUID, X-Hook-UUID,
// X-Attempt-Number, X-Hub-Signature), a 10 s timeout, and two immediate
// redeliveries on a 5xx answer. Head reads the commit and branch to
// deliver. It serves any commit of the repository, referenced or not, such
// as a snapshot of the work tree that internal/localrepo makes.
//
// It keeps pull requests too: OpenPullRequest opens one of a branch into
// another at the branch's head, UpdatePullRequest moves it to the branch's
// new head, MergePullRequest and DeclinePullRequest close it, and
// PullRequestPayload builds the body of its pullrequest:* event as
// Bitbucket sends it (state OPEN, MERGED or DECLINED; only 12 characters of
// the source commit's hash), for Deliver to send.
//
// What differs from Bitbucket: plain HTTP on 127.0.0.1; one repository per
// server; no rate limits, redirects to storage, pagination beyond one page
// (but the diffstat's), lines added and removed in a diffstat (always 0),
// src's format=meta, or branch names in archive or commit URLs. Pull
// requests live only in the server's memory and have no API of their own;
// merging one merges nothing in git (its payload's merge_commit is null,
// and no repo:push of the destination follows). An archive of an app
// folder is the folder's tree, so its files carry the time of the request
// rather than the commit's (git archive of a tree has no commit time).
// Archives are made in memory before they are sent, so a failure of git
// is an honest 500 rather than a cut-off download.
package bitbucket
