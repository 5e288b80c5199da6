package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/ui/theme"
)

// ResumeInfo is what the resume screen shows about an unfinished run.
type ResumeInfo struct {
	Tenant       string   // "Contoso Ltd (3f9c…)"
	From         string   // when the run was last saved, as the screen writes times
	Done         []string // the steps that finished, in order
	Stopped      string   // the step that was running, "" when unknown
	Changes      []string // the role fixes applied (or found in place)
	Organization string   // the organization picked, "" when none yet
}

// Resume answers of AskResume.
const (
	ResumeYes  = "resume"
	ResumeNo   = "start over"
	ResumeQuit = "quit"
)

// AskResume is the resume question as a TUI screen (issue 18): what was
// already done (each step and each change) and what will happen either
// way; y resumes, n starts over, q or ctrl+c quits. Like every question,
// it takes no answer before it has been seen to its end, and enter does
// not answer it.
func AskResume(ctx context.Context, in io.Reader, out io.Writer, noColor bool, info ResumeInfo) string {
	m := newResumeModel(info, noColor)
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if out != nil {
		opts = append(opts, tea.WithOutput(out))
	}
	if noColor {
		opts = append(opts, tea.WithColorProfile(colorprofile.ASCII))
	}
	final, err := tea.NewProgram(m, opts...).Run()
	fm, ok := final.(*resumeModel)
	if err != nil && !errors.Is(err, tea.ErrInterrupted) || !ok || fm.answer == "" {
		return ResumeQuit
	}
	return fm.answer
}

type resumeModel struct {
	info          ResumeInfo
	st            theme.Styles
	help          help.Model
	width, height int
	scroll        int
	notice        string
	answer        string
	keys          struct{ yes, no, quit, move key.Binding }
}

func newResumeModel(info ResumeInfo, noColor bool) *resumeModel {
	m := &resumeModel{info: info, st: theme.New(true, noColor), help: help.New(), width: 80, height: 24}
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	m.keys.yes = b([]string{"y", "Y"}, "y", "resume")
	m.keys.no = b([]string{"n", "N"}, "n", "start over")
	m.keys.quit = b([]string{"q", "ctrl+c"}, "q", "quit")
	m.keys.move = b([]string{"up", "down", "pgup", "pgdown", "home", "end"}, "↑↓/pgdn", "scroll")
	return m
}

func (m *resumeModel) Init() tea.Cmd { return nil }

// content is the scrolling part: what was done and what will happen.
func (m *resumeModel) content() []string {
	st, w := m.st, max(m.width, 20)
	i := m.info
	out := []string{st.App.Title.Render("An unfinished onboarding was found")}
	out = append(out, wrapStyled(st.App.Text.Render, "Tenant "+san(i.Tenant)+", last saved "+san(i.From)+".", " ", w)...)
	out = append(out, "", st.App.Strong.Render(" Already done"))
	if len(i.Done) == 0 {
		out = append(out, st.App.Muted.Render("   no step finished"))
	}
	for _, d := range i.Done {
		out = append(out, wrapStyled(st.App.Text.Render, san(d), "   "+st.Check.Pass.Render(st.Icons.Pass)+" ", w)...)
	}
	for _, c := range i.Changes {
		out = append(out, wrapStyled(st.App.Text.Render, "change applied: "+san(c), "     ", w)...)
	}
	if i.Stopped != "" {
		out = append(out, wrapStyled(st.App.Text.Render, "stopped during: "+san(i.Stopped), "   "+st.Check.Warn.Render(st.Icons.Paused)+" ", w)...)
	}
	if i.Organization != "" {
		out = append(out, wrapStyled(st.App.Text.Render, "organization picked: "+san(i.Organization), "   ", w)...)
	}
	out = append(out, "", st.App.Strong.Render(" What happens"))
	out = append(out, wrapStyled(st.App.Text.Render, "y resumes: every step runs again with the saved answers; each re-checks the tenant before it writes, so nothing is applied twice.", "   ", w)...)
	out = append(out, wrapStyled(st.App.Text.Render, "n starts over: the saved answers are not used and you are asked again.", "   ", w)...)
	return out
}

func (m *resumeModel) question() []string {
	return wrapStyled(m.st.Prompt.Question.Render, "Resume it? [y/n]", " ", max(m.width, 20))
}

// window is the visible part of the content and whether its end shows.
func (m *resumeModel) window() (shown []string, atEnd bool) {
	c := m.content()
	room := m.height - len(m.question()) - 3 // blank, notice/position, help
	room = max(room, 1)
	if len(c) <= room {
		return c, true
	}
	m.scroll = min(max(m.scroll, 0), len(c)-room)
	end := m.scroll + room
	return c[m.scroll:end], end >= len(c)
}

func (m *resumeModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
	case tea.KeyPressMsg:
		_, atEnd := m.window()
		switch {
		case key.Matches(msg, m.keys.quit):
			m.answer = ResumeQuit
			return m, tea.Quit
		case key.Matches(msg, m.keys.yes, m.keys.no):
			if !atEnd {
				m.notice = "Read it to the end first (End or PgDn), then answer."
				return m, nil
			}
			m.answer = ResumeNo
			if key.Matches(msg, m.keys.yes) {
				m.answer = ResumeYes
			}
			return m, tea.Quit
		case msg.String() == "enter":
			m.notice = "Press y or n: enter does not answer a yes/no question."
		case msg.String() == "up":
			m.scroll--
		case msg.String() == "down":
			m.scroll++
		case msg.String() == "pgup":
			m.scroll -= max(m.height-6, 1)
		case msg.String() == "pgdown":
			m.scroll += max(m.height-6, 1)
		case msg.String() == "home":
			m.scroll = 0
		case msg.String() == "end":
			m.scroll = len(m.content())
		}
	}
	return m, nil
}

func (m *resumeModel) render() string {
	shown, atEnd := m.window()
	out := append([]string{}, shown...)
	out = append(out, "")
	if !atEnd {
		out = append(out, m.st.App.Muted.Render(" more below (↓/PgDn/End)"))
	} else if m.notice != "" {
		out = append(out, m.st.Notice.Render(" "+san(m.notice)))
	}
	out = append(out, m.question()...)
	keys := []key.Binding{m.keys.yes, m.keys.no, m.keys.quit}
	if !atEnd || m.scroll > 0 {
		keys = append(keys, m.keys.move)
	}
	out = append(out, m.help.ShortHelpView(keys))
	for i, l := range out {
		if ansi.StringWidth(l) > m.width {
			out[i] = ansi.Truncate(l, m.width, "")
		}
	}
	return strings.Join(out, "\n")
}

func (m *resumeModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

// ResumeSummary is the line left in the terminal after the answer.
func ResumeSummary(answer string, info ResumeInfo) string {
	switch answer {
	case ResumeYes:
		return fmt.Sprintf("Resuming the onboarding of %s (saved %s).", san(info.Tenant), san(info.From))
	case ResumeNo:
		return "Starting over."
	}
	return ""
}
