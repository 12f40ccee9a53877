// Package dashboard serves `stackflow dashboard`: web pages of which
// commit each environment runs (with its history and DORA figures), of the
// pipeline's runs as they go (each run's state machine drawn as a graph),
// and, when asked for, buttons for the operator commands.
//
// It reads and acts through the same client the command line uses
// (runs.Client): a page shows what `stackflow runs`, `show`, `logs` and
// `releases` print, and a button calls exactly what `stackflow approve`,
// `reject`, `rollback`, `promote` and `retry` call.
//
// It listens on a loopback address only, and trusts no request for that:
// each must carry the random token of the URL it printed (as Jupyter does,
// the first one in the URL, which sets an HttpOnly, SameSite=Strict
// cookie), name the address it listens on as its Host (no DNS rebinding),
// and, when it says where it comes from, come from its own pages (no
// other site can drive it). Actions are POSTs that carry the token in a
// header as well. Its pages are server-rendered from html/template with
// their assets embedded; the graph is laid out by dagre, vendored.
package dashboard
