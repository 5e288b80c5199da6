package plain

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// Batch front-ends (issue 21): one line per tenant event, or one JSON
// object per event tagged with its tenant; both end with the summary.

// BatchText prints one line per tenant event.
type BatchText struct {
	W   io.Writer
	Now func() time.Time
	mu  sync.Mutex
	// last is each tenant's last printed line (without the clock): the
	// same words again (a snapshot re-sent for another reason) print once.
	last map[string]string
}

func (b *BatchText) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Event prints one line: clock, tenant, state glyph, what happened.
func (b *BatchText) Event(ev steps.BatchEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	when := text.Clock(ev.Time, b.now())
	if ev.TenantID == "" {
		if ev.Message != "" {
			fmt.Fprintf(b.W, "%s  %s\n", when, text.Line(ev.Message))
		}
		return
	}
	what := batchWhat(ev)
	if what == "" {
		return
	}
	glyph := " "
	switch ev.State {
	case "":
	case steps.TenantRunning:
		// Not the TUI's spinner frame: a line is printed once, and a screen
		// reader reads a braille cell aloud.
		glyph = "·"
	default:
		glyph = ev.State.Glyph()
	}
	line := fmt.Sprintf("%-26s %s %s", clipName(text.Line(ev.Tenant), 26), glyph, text.Line(text.ClockTimes(what, b.now())))
	if b.last == nil {
		b.last = map[string]string{}
	}
	if b.last[ev.TenantID] == line {
		return
	}
	b.last[ev.TenantID] = line
	fmt.Fprintf(b.W, "%s  %s\n", when, line)
}

func clipName(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// batchWhat words one tenant event for a line ("" prints nothing).
func batchWhat(ev steps.BatchEvent) string {
	f := ev.Fields
	str := func(k string) string { s, _ := f[k].(string); return s }
	switch ev.Type {
	case steps.EventTenantState:
		s := string(ev.State)
		if ev.Message != "" && ev.Message != s {
			s += ": " + ev.Message
		}
		if ev.State == steps.TenantRunning && str("organization") != "" {
			s += " → organization " + str("organization")
			if n := str("organization_note"); n != "" {
				s += " (warning: " + n + ")"
			}
		}
		if n := str("next"); n != "" && ev.State.Final() && ev.State != steps.TenantHandedOff {
			s += " — next: " + n
		}
		return s
	case steps.EventHandOff:
		h, _ := f["handoff"].(*steps.HandOff)
		if h == nil {
			return "hand-off: " + ev.Message
		}
		s := "hand-off (" + h.Who + "): " + h.Reason
		if h.CustomerAction != "" {
			if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
				s += "."
			}
			s += " " + h.CustomerAction
		}
		if h.Link != "" {
			s += " Link: " + h.Link
		}
		return s
	case "step_started":
		t := str("title")
		if t == "" {
			t = string(ev.Step)
		}
		return "step " + t
	case "change_applied":
		return fmt.Sprintf("%s: done: %s", ev.Step, ev.Message)
	case "change_failed":
		return fmt.Sprintf("%s: change failed: %s", ev.Step, str("error"))
	case "consent":
		return "consent granted to the platform's app"
	case "consent_retry":
		return "consent: retrying (" + str("error") + ")"
	case "mapped":
		return "mapped (integration " + str("integration_id") + ")"
	case "health":
		if e := str("error"); e != "" {
			return "health: " + e
		}
		s := "health: " + str("status")
		if r := str("reason"); r != "" && str("status") != "healthy" {
			s += " — " + r
		}
		return s
	case "receipt":
		return "receipt: " + str("receipt")
	case "check":
		if o := fmt.Sprint(f["outcome"]); o == "fail" || o == "warn" {
			return fmt.Sprintf("%s: %s", ev.Step, str("summary"))
		}
		return ""
	}
	if ev.Message != "" {
		return string(ev.Step) + ": " + ev.Message
	}
	return ""
}

// Summary prints the end of a batch: counts, then each group with its
// next action, the hand-offs with their links, and the batch's record.
func (b *BatchText) Summary(s steps.BatchSnapshot, code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.W
	fmt.Fprintf(w, "\nBatch %s: %d tenants", s.ID, len(s.Tenants))
	for _, c := range s.Counts {
		fmt.Fprintf(w, " · %d %s", c.N, c.State)
	}
	fmt.Fprintln(w)
	groups := []struct {
		st    steps.TenantState
		title string
	}{
		{steps.TenantHealthy, "Healthy"},
		{steps.TenantPending, "Pending (mapped; waiting for data)"},
		{steps.TenantFailed, "Failed"},
		{steps.TenantHandedOff, "Handed off (needs the customer or a partner-side fix)"},
		{steps.TenantSkipped, "Skipped"},
		{steps.TenantQueued, "Not finished (`itdr-onboard batch resume` continues)"},
		{steps.TenantRunning, "Not finished (`itdr-onboard batch resume` continues)"},
		{steps.TenantWaiting, "Not finished (`itdr-onboard batch resume` continues)"},
	}
	for _, g := range groups {
		var ts []steps.BatchTenant
		for _, t := range s.Tenants {
			if t.State == g.st {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			continue
		}
		sort.SliceStable(ts, func(i, j int) bool { return strings.ToLower(ts[i].Name) < strings.ToLower(ts[j].Name) })
		fmt.Fprintf(w, "\n%s %s (%d)\n", g.st.Glyph(), g.title, len(ts))
		for _, t := range ts {
			line := fmt.Sprintf("  %-26s %-13s", clipName(text.Line(t.Name), 26), t.Lane)
			switch g.st {
			case steps.TenantHealthy, steps.TenantPending:
				line += fmt.Sprintf(" %d changes", t.Changes)
				if t.Evidence != "" {
					line += " · evidence: " + t.Evidence
				}
				if t.Org != "" {
					line += " · " + t.Org
				}
			default:
				line += " " + t.Message
			}
			fmt.Fprintln(w, text.Line(text.ClockTimes(line, b.now())))
			if t.OrgNote != "" && (g.st == steps.TenantPending || g.st == steps.TenantHealthy) {
				fmt.Fprintf(w, "      warning: %s\n", text.Line(t.OrgNote))
			}
			if h := t.HandOff; h != nil {
				fmt.Fprintf(w, "      for the %s: %s\n", h.Who, text.Line(h.CustomerAction))
				if h.Link != "" {
					fmt.Fprintf(w, "      link: %s\n", text.Line(h.Link))
				}
			} else if t.Next != "" {
				fmt.Fprintf(w, "      next: %s\n", text.Line(text.ClockTimes(t.Next, b.now())))
			}
			if t.ReceiptPath != "" && g.st != steps.TenantSkipped {
				fmt.Fprintf(w, "      receipt: %s\n", text.Line(t.ReceiptPath))
			}
		}
	}
	fmt.Fprintln(w)
	if s.ReceiptPath != "" {
		fmt.Fprintf(w, "Batch receipt: %s\n", s.ReceiptPath)
	}
	if s.Count(steps.TenantHandedOff) > 0 {
		fmt.Fprintf(w, "Hand-offs: `itdr-onboard batch handoff --batch %s` exports them as CSV and Markdown.\n", s.ID)
	}
	fmt.Fprintf(w, "Exit code %d.\n", code)
}

// BatchJSON prints one JSON object per event: the onboard event schema
// (time, step, type and the type's fields) plus tenant_id and tenant.
type BatchJSON struct {
	W   io.Writer
	Now func() time.Time
	mu  sync.Mutex
}

func (j *BatchJSON) write(m map[string]any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, err := text.Marshal(m)
	if err != nil {
		b, _ = text.Marshal(map[string]any{"time": m["time"], "type": "error", "message": err.Error()})
	}
	j.W.Write(append(b, '\n'))
}

// Event implements the batch's event sink.
func (j *BatchJSON) Event(ev steps.BatchEvent) {
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
		if j.Now != nil {
			at = j.Now()
		}
	}
	m := map[string]any{}
	for k, v := range ev.Fields {
		m[k] = v
	}
	m["time"] = at.UTC().Format(time.RFC3339Nano)
	m["step"] = string(ev.Step)
	if ev.Step == "" {
		m["step"] = "batch"
	}
	m["type"] = ev.Type
	if ev.TenantID != "" {
		m["tenant_id"], m["tenant"] = ev.TenantID, ev.Tenant
	}
	if ev.State != "" {
		m["state"] = ev.State
	}
	if ev.Message != "" {
		m["message"] = ev.Message
	}
	j.write(m)
}

// Summary prints the "finished" event: the exit code, counts and every
// tenant's outcome.
func (j *BatchJSON) Summary(s steps.BatchSnapshot, code int) {
	outcome := "done"
	switch {
	case !s.Finished:
		outcome = "interrupted"
	case s.Count(steps.TenantFailed) > 0:
		outcome = "failed"
	case s.Count(steps.TenantHandedOff) > 0:
		outcome = "handed-off"
	case s.Count(steps.TenantPending) > 0:
		outcome = "pending"
	}
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	j.write(map[string]any{"time": now.UTC().Format(time.RFC3339Nano), "step": "batch", "type": "finished", "outcome": outcome, "exit_code": code,
		"batch_id": s.ID, "counts": s.Counts, "tenants": s.Tenants, "receipt": s.ReceiptPath, "manifest": s.ManifestPath})
}
