package daemon

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteTree writes the documents of each trace in docs as a tree, one line
// per segment or subsegment under its parent, with when it started (from
// the trace's first document) and how long it took:
//
//	trace 1-6b07a29b-3530a6c7cb9111b2f20d24f4
//	webhook  +0ms 58ms
//	  Secrets Manager GetSecretValue 200  +1ms 1ms
//	  SFN StartExecution 200  +2ms 55ms
//
// A document whose parent is not in docs is a root. Traces come in the
// order of their first document.
func WriteTree(w io.Writer, docs []Document) error {
	var order []string
	byTrace := map[string][]Document{}
	for _, d := range docs {
		if _, ok := byTrace[d.TraceID]; !ok {
			order = append(order, d.TraceID)
		}
		byTrace[d.TraceID] = append(byTrace[d.TraceID], d)
	}
	var b strings.Builder
	for _, id := range order {
		writeTrace(&b, id, byTrace[id])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTrace(b *strings.Builder, id string, docs []Document) {
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].StartTime < docs[j].StartTime })
	ids := map[string]bool{}
	for _, d := range docs {
		ids[d.ID] = true
	}
	children := map[string][]Document{}
	var roots []Document
	for _, d := range docs {
		if d.ParentID != "" && ids[d.ParentID] && d.ParentID != d.ID {
			children[d.ParentID] = append(children[d.ParentID], d)
		} else {
			roots = append(roots, d)
		}
	}
	fmt.Fprintf(b, "trace %s\n", id)
	t0 := docs[0].StartTime
	seen := map[string]bool{}
	var walk func(d Document, depth int)
	walk = func(d Document, depth int) {
		if seen[d.ID] {
			return
		}
		seen[d.ID] = true
		fmt.Fprintf(b, "%s%s  +%s %s\n", strings.Repeat("  ", depth), describe(d), millis(d.StartTime-t0), millis(d.EndTime-d.StartTime))
		for _, c := range children[d.ID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

// describe is a document's name and what it did.
func describe(d Document) string {
	parts := []string{d.Name}
	if d.AWS != nil && d.AWS.Operation != "" {
		parts = append(parts, d.AWS.Operation)
	}
	if d.HTTP != nil && d.HTTP.Request != nil {
		parts = append(parts, d.HTTP.Request.Method, d.HTTP.Request.URL)
	}
	if d.HTTP != nil && d.HTTP.Response != nil && d.HTTP.Response.Status != 0 {
		parts = append(parts, fmt.Sprint(d.HTTP.Response.Status))
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{d.Error, "error"}, {d.Throttle, "throttle"}, {d.Fault, "fault"}} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, " ")
}

func millis(seconds float64) string {
	return fmt.Sprintf("%.0fms", seconds*1000)
}
