package browsertest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestTheEnvironmentsPageShowsStagingAndProdWithTheirCommit(t *testing.T) {
	t.Parallel()
	ctx := tab(t)
	short := pipeline.ShortSHA(goodCommit)
	for _, env := range []string{"staging", "prod"} {
		sel := `section[aria-labelledby="repo-acme/good"] article[data-env="` + env + `"] code.commit`
		if err := chromedp.Do(ctx, chromedp.Navigate(base()+"/")); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if got != short {
			t.Errorf("%s's commit: got %q, want %q", env, got, short)
		}
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`section[aria-labelledby="repo-acme/good"] article[data-env="prod"] .message`)))
	if err != nil {
		t.Fatal(err)
	}
	if msg != "an app to deliver" {
		t.Errorf("prod's commit message: got %q, want the commit's, an app to deliver", msg)
	}
	screenshot(t, ctx, base()+"/?repo=acme/good", "h1", 720, "dashboard-environments.png")
}

func TestAFailedRunsGraphShowsTheFailedStateInRed(t *testing.T) {
	t.Parallel()
	ctx := tab(t)
	node := `#graph g.node[data-state="Run the checks"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(base()+"/runs/"+pipeline.ExecutionNameOf(broken.Execution)),
		chromedp.WaitVisible(chromedp.CSS(node)),
	)
	if err != nil {
		t.Fatal(err)
	}
	outcome := attr(t, ctx, node, "data-outcome")
	stroke, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('`+node+` rect')).stroke`))
	if err != nil {
		t.Fatal(err)
	}
	if outcome != "failed" {
		t.Errorf("outcome of Run the checks: got %q, want failed", outcome)
	}
	if stroke != "rgb(207, 34, 46)" {
		t.Errorf("its outline: got %s, want red rgb(207, 34, 46)", stroke)
	}
	if reached := attr(t, ctx, `#graph g.node[data-state="Package the app once"]`, "data-outcome"); reached != "not-reached" {
		t.Errorf("outcome of Package the app once: got %q, want not-reached", reached)
	}
	screenshot(t, ctx, base()+"/runs/"+pipeline.ExecutionNameOf(broken.Execution), `#graph svg`, 1400, "dashboard-run.png")
}

func TestTheGoodRunsPage(t *testing.T) {
	t.Parallel()
	ctx := tab(t)
	url := base() + "/runs/" + pipeline.ExecutionNameOf(good.Execution)
	err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#graph g.node[data-state="Report success"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if outcome := attr(t, ctx, `#graph g.node[data-state="Report success"]`, "data-outcome"); outcome != "succeeded" {
		t.Errorf("outcome of Report success: got %q, want succeeded", outcome)
	}
}

func TestApprovingFromThePageLetsTheWaitingRunGoOn(t *testing.T) {
	t.Parallel()
	ctx := tab(t)
	// The gated run waits for prod's approval: find it in the runs list.
	var name string
	for name == "" {
		list, err := client.Runs(ctx, runsOfGated())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			if _, p, err := client.Pending(ctx, list[0].ARN); err == nil && len(p) > 0 {
				name = list[0].Execution
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the gated run never waited for approval")
		}
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(base()+"/runs/"+name),
		chromedp.Click(chromedp.CSS(`button[data-action="approve"][data-environment="prod"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// An approval asks for no reason (a rejection does).
	asks, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("confirm-reason").offsetParent !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if asks {
		t.Error("the approval's dialog shows the reason field, want it hidden")
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#notice`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "approved the deploy") {
		t.Errorf("notice: got %q, want it approved", notice)
	}
	select {
	case r := <-gated:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !r.res.Succeeded() {
			t.Errorf("the approved run: got %s %s: %s, want SUCCEEDED", r.res.Status, r.res.Error, r.res.Cause)
		}
	case <-ctx.Done():
		t.Fatal("the approved run did not end")
	}
}

func TestARequestWithoutTheTokenOrFromAnotherOriginIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		header map[string]string
	}{
		{"no token", nil},
		{"another Origin", map[string]string{"Origin": "http://evil.example"}},
	} {
		req, err := http.NewRequest("GET", base()+"/api/environments", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %d, want 403", tt.name, resp.StatusCode)
		}
	}
}

// screenshot writes the page at url, once ready shows, 1280 pixels wide
// and height high, to docs/file, when
// STACKFLOW_SCREENSHOTS=1 asks for the README's screenshots.
func screenshot(t *testing.T, ctx context.Context, url, ready string, height int64, file string) {
	t.Helper()
	if os.Getenv("STACKFLOW_SCREENSHOTS") != "1" {
		return
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, height), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "..", "docs", file), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// attr is the attribute name of the element sel finds.
func attr(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		t.Fatal(err)
	}
	return v.Value
}

func TestTheRunsListFiltersByStatus(t *testing.T) {
	t.Parallel()
	ctx := tab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(base()+"/runs?status=FAILED")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#runs-body`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, pipeline.ExecutionNameOf(broken.Execution)) || strings.Contains(got, pipeline.ExecutionNameOf(good.Execution)) {
		t.Errorf("failed runs: got %q, want the broken run and not the good one", got)
	}
}
