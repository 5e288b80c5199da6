package batchview

import (
	"bytes"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"itdr-onboard/partner"
	"itdr-onboard/steps"
)

func plan() Plan { return steps.PresentPlan(rawPlan()) }

func rawPlan() partner.Plan {
	roles := func(a, b, c bool) []partner.RoleStatus {
		return []partner.RoleStatus{{Role: "Cloud Application Administrator", Has: a}, {Role: "Privileged Role Administrator", Has: b}, {Role: "Exchange Administrator", Has: c, Pending: !c}}
	}
	p := partner.Plan{User: "tech@msp", Partner: "p", Counts: map[partner.Lane]int{partner.LaneReady: 1, partner.LanePartial: 1, partner.LaneNoGDAP: 1}}
	p.Rows = []partner.Row{
		{TenantID: "t1", Name: "Contoso", Domain: "contoso.example", Lane: partner.LaneReady, Roles: roles(true, true, true), Remedy: "Nothing to fix."},
		{TenantID: "t2", Name: "=cmd|' /C calc'!A0", Domain: "evil.example", Lane: partner.LanePartial, Roles: roles(true, false, false), Remedy: "Missing PRA.", HandOff: []string{"directory roles"}},
		{TenantID: "t3", Name: "Fabrikam", Domain: "fabrikam.example", Lane: partner.LaneNoGDAP, Roles: roles(false, false, false), Remedy: "Send the invite."},
	}
	return p
}

func key(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(s)
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

func TestTableFilterAndDetail(t *testing.T) {
	t.Parallel()
	m := New(plan())
	if len(m.Rows()) != 3 || !strings.Contains(m.Render(), "CAA✓ PRA✓ EXA✓") || !strings.Contains(m.Render(), "CAA✗ PRA✗ EXA…") {
		t.Fatalf("initial screen:\n%s", m.Render())
	}
	for _, k := range []string{"/", "n", "o", "-", "g", "d", "a", "p", "enter"} {
		m.Update(key(k))
	}
	if got := m.Rows(); len(got) != 1 || got[0].TenantID != "t3" {
		t.Fatalf("filter no-gdap: %v", got)
	}
	m.Update(key("enter"))
	if !strings.Contains(m.Render(), "remedy: Send the invite.") || !strings.Contains(m.Render(), "Exchange Administrator") {
		t.Fatalf("detail:\n%s", m.Render())
	}
	m.Update(key("x"))
	if len(m.Rows()) != 3 {
		t.Fatalf("x should clear the filter: %d rows", len(m.Rows()))
	}
	m.Update(key("/"))
	m.Update(key("z"))
	m.Update(key("z"))
	if len(m.Rows()) != 0 || !strings.Contains(m.Render(), "no customer matches") {
		t.Fatalf("no match:\n%s", m.Render())
	}
	m.Update(key("backspace"))
	m.Update(key("backspace"))
	if len(m.Rows()) != 3 {
		t.Fatalf("backspace: %d rows", len(m.Rows()))
	}
	m.Update(key("enter"))
	if _, cmd := m.Update(key("q")); cmd == nil || !m.Quit {
		t.Fatal("q does not quit")
	}
}

func TestCSVAndText(t *testing.T) {
	t.Parallel()
	p := plan()
	var b bytes.Buffer
	if err := WriteCSV(&b, p.Rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "'=cmd") || strings.Contains(out, ",=cmd") {
		t.Fatalf("a formula-like name is not neutralised:\n%s", out)
	}
	if !strings.Contains(out, "t2,'=cmd|' /C calc'!A0,evil.example,partial,yes,no,pending") {
		t.Fatalf("row:\n%s", out)
	}
	b.Reset()
	WriteText(&b, p, p.Rows, p.Plan.At)
	txt := b.String()
	if strings.Count(txt, "remedy:") != 2 || !strings.Contains(txt, "1 ready, 1 partial, 1 no-gdap") {
		t.Fatalf("text:\n%s", txt)
	}
}

// Customer names come from Partner Center and Graph: a hostile name cannot
// put a control sequence on the terminal or into the CSV.
func TestHostileNamesAreCleaned(t *testing.T) {
	t.Parallel()
	raw := rawPlan()
	raw.Rows[0].Name = "Evil\x1b]52;c;aGk=\x07 Corp\x9b2J"
	raw.Rows[0].Lane = partner.LaneNoGDAP
	raw.Rows[0].Remedy = "send\x1b[31m it"
	p := steps.PresentPlan(raw)
	var b bytes.Buffer
	WriteText(&b, p, p.Rows, p.Plan.At)
	if err := WriteCSV(&b, p.Rows); err != nil {
		t.Fatal(err)
	}
	m := New(p)
	m.Update(key("enter"))
	out := b.String() + m.Render()
	if strings.ContainsAny(out, "\x1b\x07\u009b") {
		t.Fatalf("control characters survived: %q", out)
	}
	if !strings.Contains(out, "Evil Corp") || !strings.Contains(out, "send it") {
		t.Fatalf("text lost: %q", out)
	}
}

// TestSelectTenants: choosing a batch — ready customers start selected,
// space toggles the row (and moves down), a selects every row shown (after a
// filter by lane), n clears, enter with nothing selected is refused, enter
// with a selection ends with it in the plan's order, q cancels.
func TestSelectTenants(t *testing.T) {
	t.Parallel()
	m := NewSelect(plan())
	if got := m.Selected(); len(got) != 1 || got[0] != "t1" {
		t.Fatalf("initial selection %v, want the ready customer t1", got)
	}
	if r := m.Render(); !strings.Contains(r, "1 of 3 selected") || !strings.Contains(r, "[x] Contoso") || !strings.Contains(r, "[ ] Fabrikam") ||
		!strings.Contains(r, "no-gdap") || !strings.Contains(r, "space select") {
		t.Fatalf("select screen:\n%s", r)
	}
	space := tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	m.Update(space) // t1 off, cursor to t2
	if got := m.Selected(); len(got) != 0 {
		t.Fatalf("after space: %v", got)
	}
	m.Update(key("enter"))
	if m.Chosen || !strings.Contains(m.Render(), "Nothing selected") {
		t.Fatalf("enter with nothing selected was taken:\n%s", m.Render())
	}
	for _, k := range []string{"/", "l", "a", "n", "e", ":", "n", "o", "enter", "a"} {
		m.Update(key(k))
	}
	if got := m.Selected(); len(got) != 1 || got[0] != "t3" {
		t.Fatalf("a on lane:no-gdap selected %v, want [t3]", got)
	}
	m.Update(key("x"))
	m.Update(key("a"))
	if got := m.Selected(); len(got) != 3 {
		t.Fatalf("a with no filter: %v", got)
	}
	m.Update(key("n"))
	if got := m.Selected(); len(got) != 0 {
		t.Fatalf("n left %v", got)
	}
	m.Update(key("down"))
	m.Update(key("down"))
	m.Update(space) // t3
	m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	m.Update(space) // t1
	_, cmd := m.Update(key("enter"))
	if !m.Chosen || cmd == nil {
		t.Fatal("enter with a selection did not end the table")
	}
	if got := m.Selected(); strings.Join(got, ",") != "t1,t3" {
		t.Fatalf("chosen %v, want t1,t3 in plan order", got)
	}
	c := NewSelect(plan())
	c.Update(key("q"))
	if c.Chosen || !c.Quit {
		t.Fatal("q did not cancel")
	}
}
