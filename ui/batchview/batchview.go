// Package batchview renders the GDAP discovery plan (`batch plan`): a text
// table shared by line mode and the TUI, the CSV export, and a small
// bubbletea table with a filter. It depends on partner (the rows) only.
package batchview

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"itdr-onboard/partner"
)

// RoleMarks is "CAA✓ PRA✗ EXA…" for a row (… = assignment pending).
func RoleMarks(r partner.Row) string {
	var parts []string
	for i, st := range r.Roles {
		mark := "✗"
		switch {
		case st.Has:
			mark = "✓"
		case st.Pending:
			mark = "…"
		}
		short := st.Role
		if i < len(partner.NeededRoles) {
			short = partner.NeededRoles[i].Short
		}
		parts = append(parts, short+mark)
	}
	return strings.Join(parts, " ")
}

// Match reports whether a row matches a filter: every space-separated word
// must appear in the name, domain, tenant id or lane (case-insensitive).
func Match(r partner.Row, filter string) bool {
	hay := strings.ToLower(r.Name + " " + r.Domain + " " + r.TenantID + " lane:" + string(r.Lane) + " " + string(r.Lane))
	for _, w := range strings.Fields(strings.ToLower(filter)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// Filter returns the matching rows.
func Filter(rows []partner.Row, filter string) []partner.Row {
	var out []partner.Row
	for _, r := range rows {
		if Match(r, filter) {
			out = append(out, r)
		}
	}
	return out
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s + strings.Repeat(" ", n-len(r))
	}
	return string(r[:n-1]) + "…"
}

// Counts is "9 ready, 2 settling, …" in lane order.
func Counts(p partner.Plan) string {
	var parts []string
	for _, l := range partner.Lanes() {
		if n := p.Counts[l]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, l))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteText prints the plan as lines: a header, one line per customer with
// its roles and lane, and the remedy under each row that needs one.
func WriteText(w io.Writer, p partner.Plan, rows []partner.Row, now time.Time) {
	fmt.Fprintf(w, "\nGDAP discovery for %s (partner tenant %s): %d customers — %s\n", p.User, p.Partner, len(p.Rows), Counts(p))
	fmt.Fprintf(w, "  %-28s %-34s %-15s %s\n", "CUSTOMER", "DOMAIN", "LANE", "ROLES (CAA PRA EXA)")
	for _, r := range rows {
		fmt.Fprintf(w, "  %s %s %s %s\n", clip(r.Name, 28), clip(r.Domain, 34), clip(string(r.Lane), 15), RoleMarks(r))
		if r.Lane != partner.LaneReady {
			fmt.Fprintf(w, "      remedy: %s\n", r.Remedy)
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// WriteCSV exports rows: one line per customer, roles as yes/pending/no.
func WriteCSV(w io.Writer, rows []partner.Row) error {
	cw := csv.NewWriter(w)
	head := []string{"tenant_id", "name", "domain", "lane"}
	for _, n := range partner.NeededRoles {
		head = append(head, n.Name)
	}
	head = append(head, "ready_at", "hand_off", "remedy", "invite_url", "organization_id")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.TenantID, csvSafe(r.Name), csvSafe(r.Domain), string(r.Lane)}
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
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Model is the TUI table: type / to filter, ↑/↓ to move, enter for the
// row's detail (roles, hand-off, remedy), q to quit.
type Model struct {
	plan          partner.Plan
	rows          []partner.Row
	filter        string
	typing        bool
	cursor        int
	detail        bool
	width, height int
	Quit          bool
}

// New builds the table model.
func New(p partner.Plan) *Model {
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
func (m *Model) Rows() []partner.Row { return m.rows }

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
	fmt.Fprintf(&b, "GDAP discovery — %s (partner %s) — %d customers: %s\n", m.plan.User, m.plan.Partner, len(m.plan.Rows), Counts(m.plan))
	f := m.filter
	if m.typing {
		f += "▏"
	}
	fmt.Fprintf(&b, "filter: %s   (%d shown)\n\n", f, len(m.rows))
	fmt.Fprintf(&b, "  %-28s %-15s %s\n", "CUSTOMER", "LANE", "CAA PRA EXA")
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
		fmt.Fprintf(&b, "%s%s %s %s\n", sel, clip(r.Name, 28), clip(string(r.Lane), 15), RoleMarks(r))
	}
	if len(m.rows) == 0 {
		b.WriteString("  (no customer matches the filter)\n")
	}
	if m.detail && m.cursor < len(m.rows) {
		r := m.rows[m.cursor]
		fmt.Fprintf(&b, "\n%s  %s  %s\n", r.Name, r.TenantID, r.Domain)
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
			fmt.Fprintf(&b, "  handed off: %s\n", h)
		}
		fmt.Fprintf(&b, "  remedy: %s\n", r.Remedy)
	}
	b.WriteString("\n/ filter · x clear · ↑/↓ move · enter details · q quit\n")
	return b.String()
}

func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// Run shows the table until the technician quits; the table stays in the
// scrollback afterwards as plain text.
func Run(ctx context.Context, p partner.Plan, in io.Reader, out io.Writer) error {
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
