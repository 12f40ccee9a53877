// Package browsertest drives the dashboard in headless Chromium (Debian's
// chromium, through chromedp) against one local pipeline, started once for
// all its tests: the environments page, a failed run's graph, an approval
// given from the page. With STACKFLOW_SCREENSHOTS=1 it also writes the
// README's screenshots to docs/.
package browsertest
