package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/ui/text"
	"itdr-onboard/ui/theme"
)

// lineInput is a one-line text field with the cursor at the end. It has no
// blinking cursor, so an idle screen does no work.
type lineInput struct {
	value []rune
	limit int
}

func (in *lineInput) Value() string { return string(in.value) }
func (in *lineInput) Reset()        { in.value = in.value[:0] }

func (in *lineInput) insert(s string) {
	s = text.Line(s)
	for _, r := range s {
		if in.limit > 0 && len(in.value) >= in.limit {
			return
		}
		in.value = append(in.value, r)
	}
}

// handleKey edits the value; it reports whether the key was consumed.
func (in *lineInput) handleKey(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "backspace", "ctrl+h":
		if n := len(in.value); n > 0 {
			in.value = in.value[:n-1]
		}
		return true
	case "ctrl+u":
		in.value = in.value[:0]
		return true
	case "ctrl+w":
		v := strings.TrimRight(string(in.value), " ")
		if i := strings.LastIndexByte(v, ' '); i >= 0 {
			in.value = []rune(v[:i+1])
		} else {
			in.value = in.value[:0]
		}
		return true
	}
	if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
		in.insert(k.Text)
		return true
	}
	return false
}

// view renders the field: prompt, the tail of the value that fits, cursor.
func (in *lineInput) view(st theme.Styles, prompt string, width int, focused bool, placeholder string) string {
	return in.viewMasked(st, prompt, width, focused, placeholder, false)
}

// viewMasked is view; with maskQuery the part after "?" (a redirect URL's
// authorization code and state) is shown as dots.
func (in *lineInput) viewMasked(st theme.Styles, prompt string, width int, focused bool, placeholder string, maskQuery bool) string {
	avail := width - ansi.StringWidth(prompt) - 1
	v := string(in.value)
	if i := strings.IndexByte(v, '?'); maskQuery && i >= 0 {
		v = v[:i+1] + strings.Repeat("•", min(len(v)-i-1, 12))
		if st.ASCII {
			v = v[:i+1] + strings.Repeat("*", min(len(in.value)-i-1, 12))
		}
	}
	if ansi.StringWidth(v) > avail && avail > 1 {
		v = ansi.TruncateLeft(v, ansi.StringWidth(v)-avail+1, st.Icons.Ellipsis)
	}
	cur := ""
	if focused {
		cur = st.Prompt.Cursor.Render(" ")
	}
	if v == "" && placeholder != "" {
		return prompt + cur + st.App.Muted.Render(placeholder)
	}
	return prompt + st.Prompt.Input.Render(v) + cur
}
