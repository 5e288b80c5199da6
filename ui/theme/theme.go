// Package theme holds every style and icon the TUI uses. Nothing outside
// this package builds colours or borders: screens ask for a semantic style
// (Styles.Check.Fail, Styles.Code.Box) and render plain strings with it.
package theme

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Icons are the glyphs of the progress rail, check rows and spinners.
type Icons struct {
	Done, Current, Pending, Failed, Paused string // progress rail
	Pass, Warn, Fail, Skip, Running        string // check rows
	Arrow, Bullet, Ellipsis                string
	Spinner                                []string
}

// UnicodeIcons are the default icons.
var UnicodeIcons = Icons{
	Done: "✓", Current: "●", Pending: "○", Failed: "✗", Paused: "◐",
	Pass: "✓", Warn: "!", Fail: "✗", Skip: "-", Running: "…",
	Arrow: "→", Bullet: "•", Ellipsis: "…",
	Spinner: []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"},
}

// ASCIIIcons are the fallbacks for NO_COLOR and TERM=dumb.
var ASCIIIcons = Icons{
	Done: "+", Current: "*", Pending: ".", Failed: "x", Paused: "~",
	Pass: "+", Warn: "!", Fail: "x", Skip: "-", Running: "...",
	Arrow: "->", Bullet: "-", Ellipsis: "...",
	Spinner: []string{"|", "/", "-", "\\"},
}

// Styles is every style of the TUI, grouped by where it is used.
type Styles struct {
	IsDark  bool
	NoColor bool
	// ASCII says icons and borders are ASCII only.
	ASCII bool
	Icons Icons

	App struct {
		Title, Header, Muted, Text, Strong, Rule lipgloss.Style
	}
	Rail struct {
		Done, Current, Pending, Failed, Paused, Sep lipgloss.Style
	}
	Check struct {
		Pass, Warn, Fail, Skip, Running, Label, Summary, Remedy lipgloss.Style
	}
	Code struct {
		Box, Code, URL, Countdown, Expiring, QR lipgloss.Style
	}
	Plan struct {
		Summary, Call, Warning, Applied, Pending, Declined lipgloss.Style
	}
	Prompt struct {
		Question, Choice, Selected, Key, Input, Cursor lipgloss.Style
	}
	Fail struct {
		Title, Message, Remedy lipgloss.Style
	}
	Done struct {
		Title, Label, Value lipgloss.Style
	}
	Notice lipgloss.Style
	Help   struct {
		Key, Desc, Sep lipgloss.Style
	}
}

// New builds the styles for a dark or light terminal; noColor drops every
// colour and switches icons and borders to ASCII.
func New(isDark, noColor bool) Styles {
	var s Styles
	s.IsDark, s.NoColor = isDark, noColor
	s.Icons = UnicodeIcons
	if noColor {
		s.ASCII = true
		s.Icons = ASCIIIcons
		plain := lipgloss.NewStyle()
		bold := plain.Bold(true)
		s.App.Title, s.App.Header, s.App.Muted, s.App.Text, s.App.Strong, s.App.Rule = bold, plain, plain, plain, bold, plain
		s.Rail.Done, s.Rail.Current, s.Rail.Pending, s.Rail.Failed, s.Rail.Paused, s.Rail.Sep = plain, bold, plain, bold, plain, plain
		s.Check.Pass, s.Check.Warn, s.Check.Fail, s.Check.Skip, s.Check.Running = plain, bold, bold, plain, plain
		s.Check.Label, s.Check.Summary, s.Check.Remedy = plain, plain, plain
		s.Code.Box = plain.Border(lipgloss.ASCIIBorder()).Padding(0, 2)
		s.Code.Code, s.Code.URL, s.Code.Countdown, s.Code.Expiring, s.Code.QR = bold, plain, plain, bold, plain
		s.Plan.Summary, s.Plan.Call, s.Plan.Warning, s.Plan.Applied, s.Plan.Pending, s.Plan.Declined = plain, plain, bold, plain, plain, plain
		s.Prompt.Question, s.Prompt.Choice, s.Prompt.Selected, s.Prompt.Key, s.Prompt.Input, s.Prompt.Cursor = bold, plain, bold.Reverse(true), bold, plain, plain.Reverse(true)
		s.Fail.Title, s.Fail.Message, s.Fail.Remedy = bold, plain, plain
		s.Done.Title, s.Done.Label, s.Done.Value = bold, plain, bold
		s.Notice = bold
		s.Help.Key, s.Help.Desc, s.Help.Sep = bold, plain, plain
		return s
	}
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(dark)) }
	var (
		accent = c("#5A3FD1", "#A08CFF")
		text   = c("#1F1F24", "#E6E6EA")
		muted  = c("#6B6B76", "#8C8C99")
		ok     = c("#1C7C3A", "#5FD38A")
		warn   = c("#A15C00", "#F2B65A")
		bad    = c("#B3261E", "#FF7A70")
		info   = c("#0B5CAD", "#6CB6FF")
	)
	st := lipgloss.NewStyle
	s.App.Title = st().Bold(true).Foreground(accent)
	s.App.Header = st().Foreground(info)
	s.App.Muted = st().Foreground(muted)
	s.App.Text = st().Foreground(text)
	s.App.Strong = st().Bold(true).Foreground(text)
	s.App.Rule = st().Foreground(muted)

	s.Rail.Done = st().Foreground(ok)
	s.Rail.Current = st().Bold(true).Foreground(accent)
	s.Rail.Pending = st().Foreground(muted)
	s.Rail.Failed = st().Bold(true).Foreground(bad)
	s.Rail.Paused = st().Foreground(warn)
	s.Rail.Sep = st().Foreground(muted)

	s.Check.Pass = st().Foreground(ok)
	s.Check.Warn = st().Bold(true).Foreground(warn)
	s.Check.Fail = st().Bold(true).Foreground(bad)
	s.Check.Skip = st().Foreground(muted)
	s.Check.Running = st().Foreground(accent)
	s.Check.Label = st().Foreground(text)
	s.Check.Summary = st().Foreground(muted)
	s.Check.Remedy = st().Foreground(warn)

	s.Code.Box = st().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 3)
	s.Code.Code = st().Bold(true).Foreground(text)
	s.Code.URL = st().Underline(true).Foreground(info)
	s.Code.Countdown = st().Foreground(muted)
	s.Code.Expiring = st().Bold(true).Foreground(warn)
	s.Code.QR = st().Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#000000"))

	s.Plan.Summary = st().Foreground(text)
	s.Plan.Call = st().Foreground(muted)
	s.Plan.Warning = st().Bold(true).Foreground(warn)
	s.Plan.Applied = st().Foreground(ok)
	s.Plan.Pending = st().Foreground(muted)
	s.Plan.Declined = st().Foreground(muted).Strikethrough(true)

	s.Prompt.Question = st().Bold(true).Foreground(text)
	s.Prompt.Choice = st().Foreground(text)
	s.Prompt.Selected = st().Bold(true).Foreground(accent)
	s.Prompt.Key = st().Bold(true).Foreground(accent)
	s.Prompt.Input = st().Foreground(text)
	s.Prompt.Cursor = st().Reverse(true)

	s.Fail.Title = st().Bold(true).Foreground(bad)
	s.Fail.Message = st().Foreground(text)
	s.Fail.Remedy = st().Foreground(warn)

	s.Done.Title = st().Bold(true).Foreground(ok)
	s.Done.Label = st().Foreground(muted)
	s.Done.Value = st().Foreground(text)

	s.Notice = st().Foreground(info)
	s.Help.Key = st().Foreground(muted).Bold(true)
	s.Help.Desc = st().Foreground(muted)
	s.Help.Sep = st().Foreground(muted)
	return s
}

// Spin returns the spinner frame for tick n.
func (s Styles) Spin(n int) string {
	f := s.Icons.Spinner
	if len(f) == 0 {
		return s.Icons.Running
	}
	if n < 0 {
		n = -n
	}
	return f[n%len(f)]
}

// Plain is the style set with no styling at all (no colour, no bold, no
// escape sequence of any kind) and ASCII icons: for TERM=dumb and tests.
func Plain() Styles {
	var s Styles
	s.NoColor, s.ASCII, s.IsDark = true, true, true
	s.Icons = ASCIIIcons
	s.Code.Box = lipgloss.NewStyle().Border(lipgloss.ASCIIBorder()).Padding(0, 2)
	return s
}
