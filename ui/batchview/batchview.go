// Package batchview renders the GDAP discovery plan (`batch plan`): a text
// table shared by line mode and the TUI, the CSV export, and a small
// bubbletea table with a filter. Like every front-end it draws from the
// step's presentation fields (steps.DiscoveryDetail) alone.
package batchview

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// safe makes a customer-controlled string (names come from Partner Center
// and Graph) safe for a terminal line or a CSV cell: no control sequences.
func safe(s string) string { return text.Line(s) }

// Row and Plan are the step's presentation fields.
type (
	Row  = steps.DiscoveryRow
	Plan = steps.DiscoveryDetail
)

// RoleMarks is "CAA✓ PRA✗ EXA…" for a row (… = assignment pending).
func RoleMarks(r Row) string {
	var parts []string
	for _, st := range r.Roles {
		mark := "✗"
		switch {
		case st.Has:
			mark = "✓"
		case st.Pending:
			mark = "…"
		}
		parts = append(parts, st.Short+mark)
	}
	return strings.Join(parts, " ")
}

// Match reports whether a row matches a filter: every space-separated word
// must appear in the name, domain, tenant id or lane (case-insensitive).
func Match(r Row, filter string) bool {
	hay := strings.ToLower(r.Name + " " + r.Domain + " " + r.TenantID + " lane:" + r.Lane)
	for _, w := range strings.Fields(strings.ToLower(filter)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// Filter returns the matching rows.
func Filter(rows []Row, filter string) []Row {
	var out []Row
	for _, r := range rows {
		if Match(r, filter) {
			out = append(out, r)
		}
	}
	return out
}

func clip(s string, n int) string {
	s = safe(s)
	r := []rune(s)
	if len(r) <= n {
		return s + strings.Repeat(" ", n-len(r))
	}
	return string(r[:n-1]) + "…"
}

// Counts is "9 ready, 2 settling, …" in lane order.
func Counts(p Plan) string {
	var parts []string
	for _, c := range p.Counts {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, c.Lane))
	}
	return strings.Join(parts, ", ")
}

// WriteText prints the plan as lines: a header, one line per customer with
// its roles and lane, and the remedy under each row that needs one.
func WriteText(w io.Writer, p Plan, rows []Row, now time.Time) {
	fmt.Fprintf(w, "\nGDAP discovery for %s (partner tenant %s): %d customers — %s\n", safe(p.User), safe(p.Partner), len(p.Rows), Counts(p))
	fmt.Fprintf(w, "  %-28s %-34s %-15s %s\n", "CUSTOMER", "DOMAIN", "LANE", "ROLES (CAA PRA EXA)")
	for _, r := range rows {
		fmt.Fprintf(w, "  %s %s %s %s\n", clip(r.Name, 28), clip(r.Domain, 34), clip(r.Lane, 15), RoleMarks(r))
		if r.Lane != "ready" {
			fmt.Fprintf(w, "      remedy: %s\n", safe(r.Remedy))
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note: %s\n", safe(n))
	}
}

// WriteCSV exports rows: one line per customer, roles as yes/pending/no.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	head := []string{"tenant_id", "name", "domain", "lane"}
	head = append(head, steps.RoleNames()...)
	head = append(head, "ready_at", "hand_off", "remedy", "invite_url", "organization_id")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.TenantID, csvSafe(r.Name), csvSafe(r.Domain), r.Lane}
		for _, st := range r.Roles {
			v := "no"
			switch {
			case st.Has:
				v = "yes"
			case st.Pending:
				v = "pending"
			}
			rec = append(rec, v)
		}
		ready := ""
		if r.ReadyAt != nil {
			ready = r.ReadyAt.UTC().Format(time.RFC3339)
		}
		rec = append(rec, ready, csvSafe(strings.Join(r.HandOff, "; ")), csvSafe(r.Remedy), r.InviteURL, r.OrgID)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a customer-controlled name as a
// formula (=, +, -, @ at the start).
func csvSafe(s string) string {
	s = safe(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Model is the TUI table: type / to filter, ↑/↓ to move, enter for the
// row's detail (roles, hand-off, remedy), q to quit.
type Model struct {
	plan          Plan
	rows          []Row
	filter        string
	typing        bool
	cursor        int
	detail        bool
	width, height int
	Quit          bool

	// Choosing a batch's tenants (NewSelect): selected by tenant id;
	// Chosen is set when enter confirmed the selection.
	selecting bool
	selected  map[string]bool
	Chosen    bool
	notice    string
}

// NewSelect builds the table for choosing the tenants of a batch: space
// selects the row, a selects every row shown (the filter narrows it, e.g.
// "lane:ready"), n clears the selection, tab shows the row's details, enter
// starts with the selection, q or esc cancels. Customers in the ready lane
// start selected.
func NewSelect(p Plan) *Model {
	m := New(p)
	m.selecting = true
	m.selected = map[string]bool{}
	for _, r := range p.Rows {
		if r.Lane == "ready" {
			m.selected[r.TenantID] = true
		}
	}
	return m
}

// Selected are the chosen tenant ids in the plan's order.
func (m *Model) Selected() []string {
	var ids []string
	for _, r := range m.plan.Rows {
		if m.selected[r.TenantID] {
			ids = append(ids, r.TenantID)
		}
	}
	return ids
}

// selectKey handles the selection keys; false when k is not one.
func (m *Model) selectKey(k string) (tea.Cmd, bool) {
	m.notice = ""
	switch k {
	case "space", " ":
		if m.cursor < len(m.rows) {
			id := m.rows[m.cursor].TenantID
			m.selected[id] = !m.selected[id]
			m.cursor = min(max(0, len(m.rows)-1), m.cursor+1)
		}
	case "a":
		for _, r := range m.rows {
			m.selected[r.TenantID] = true
		}
	case "n":
		clear(m.selected)
	case "tab":
		m.detail = !m.detail
	case "enter":
		if len(m.Selected()) == 0 {
			m.notice = "Nothing selected: space selects a customer, a selects every one shown."
			return nil, true
		}
		m.Chosen = true
		return tea.Quit, true
	default:
		return nil, false
	}
	return nil, true
}

// New builds the table model.
func New(p Plan) *Model {
	m := &Model{plan: p, width: 120, height: 30}
	m.apply()
	return m
}

func (m *Model) apply() {
	m.rows = Filter(m.plan.Rows, m.filter)
	if m.cursor >= len(m.rows) {
		m.cursor = max(0, len(m.rows)-1)
	}
}

// Rows are the rows shown now.
func (m *Model) Rows() []Row { return m.rows }

func (m *Model) Init() tea.Cmd { return nil }

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		k := msg.String()
		if m.typing {
			switch k {
			case "enter", "esc":
				m.typing = false
			case "backspace":
				if r := []rune(m.filter); len(r) > 0 {
					m.filter = string(r[:len(r)-1])
				}
			default:
				if msg.Text != "" {
					m.filter += msg.Text
				}
			}
			m.apply()
			return m, nil
		}
		if m.selecting {
			if cmd, ok := m.selectKey(k); ok {
				return m, cmd
			}
		}
		switch k {
		case "q", "ctrl+c", "esc":
			if m.detail && k == "esc" {
				m.detail = false
				return m, nil
			}
			m.Quit = true
			return m, tea.Quit
		case "/":
			m.typing, m.detail = true, false
		case "up", "k":
			m.cursor = max(0, m.cursor-1)
		case "down", "j":
			m.cursor = min(max(0, len(m.rows)-1), m.cursor+1)
		case "enter":
			m.detail = !m.detail
		case "x":
			m.filter = ""
			m.apply()
		}
	}
	return m, nil
}

// Render is the screen as text.
func (m *Model) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GDAP discovery — %s (partner %s) — %d customers: %s\n", safe(m.plan.User), safe(m.plan.Partner), len(m.plan.Rows), Counts(m.plan))
	f := m.filter
	if m.typing {
		f += "▏"
	}
	fmt.Fprintf(&b, "filter: %s   (%d shown)", safe(f), len(m.rows))
	box := func(string) string { return "" }
	if m.selecting {
		fmt.Fprintf(&b, "   %d of %d selected", len(m.Selected()), len(m.plan.Rows))
		box = func(id string) string {
			if m.selected[id] {
				return "[x] "
			}
			return "[ ] "
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "      %-28s %-15s %s\n", "CUSTOMER", "LANE", "CAA PRA EXA")
	} else {
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "  %-28s %-15s %s\n", "CUSTOMER", "LANE", "CAA PRA EXA")
	}
	visible := max(3, m.height-8)
	start := 0
	if m.cursor >= visible {
		start = m.cursor - visible + 1
	}
	for i := start; i < len(m.rows) && i < start+visible; i++ {
		r := m.rows[i]
		sel := "  "
		if i == m.cursor {
			sel = "▶ "
		}
		fmt.Fprintf(&b, "%s%s%s %s %s\n", sel, box(r.TenantID), clip(r.Name, 28), clip(r.Lane, 15), RoleMarks(r))
	}
	if len(m.rows) == 0 {
		b.WriteString("  (no customer matches the filter)\n")
	}
	if m.detail && m.cursor < len(m.rows) {
		r := m.rows[m.cursor]
		fmt.Fprintf(&b, "\n%s  %s  %s\n", safe(r.Name), safe(r.TenantID), safe(r.Domain))
		for _, st := range r.Roles {
			mark := "✗ missing"
			switch {
			case st.Has:
				mark = "✓"
			case st.Pending:
				mark = "… assignment pending"
			}
			fmt.Fprintf(&b, "  %-33s %s\n", st.Role, mark)
		}
		if r.ReadyAt != nil {
			fmt.Fprintf(&b, "  ready at: %s\n", r.ReadyAt.Format(time.RFC3339))
		}
		for _, h := range r.HandOff {
			fmt.Fprintf(&b, "  handed off: %s\n", safe(h))
		}
		fmt.Fprintf(&b, "  remedy: %s\n", safe(r.Remedy))
	}
	if m.notice != "" {
		fmt.Fprintf(&b, "\n%s", m.notice)
	}
	if m.selecting {
		b.WriteString("\nspace select · a all shown · n none · / filter · tab details · enter start · q cancel\n")
	} else {
		b.WriteString("\n/ filter · x clear · ↑/↓ move · enter details · q quit\n")
	}
	return b.String()
}

func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// ErrNoSelection is Select's error when the technician cancelled.
var ErrNoSelection = errors.New("no tenant chosen: the batch was cancelled")

// Select shows the table for choosing a batch's tenants (NewSelect) and
// returns the chosen tenant ids, or ErrNoSelection when cancelled.
func Select(ctx context.Context, p Plan, in io.Reader, out io.Writer) ([]string, error) {
	m := NewSelect(p)
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if out != nil {
		opts = append(opts, tea.WithOutput(out))
	}
	final, err := tea.NewProgram(m, opts...).Run()
	if err != nil {
		return nil, err
	}
	if fm, ok := final.(*Model); ok {
		m = fm
	}
	if !m.Chosen {
		return nil, ErrNoSelection
	}
	return m.Selected(), nil
}

// Run shows the table until the technician quits; the table stays in the
// scrollback afterwards as plain text.
func Run(ctx context.Context, p Plan, in io.Reader, out io.Writer) error {
	m := New(p)
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if out != nil {
		opts = append(opts, tea.WithOutput(out))
	}
	_, err := tea.NewProgram(m, opts...).Run()
	return err
}
