package theme

import (
	"regexp"
	"strings"
	"testing"
)

// sgrColor matches an SGR sequence that sets a colour (30-49, 90-107, or
// 38/48 extended colours).
var sgrColor = regexp.MustCompile(`\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])[0-9;]*m`)

func TestNoColorHasNoColourAndASCIIIcons(t *testing.T) {
	s := New(true, true)
	if !s.ASCII || s.Icons.Done != "+" || s.Icons.Failed != "x" {
		t.Errorf("no-colour icons: %+v", s.Icons)
	}
	for _, out := range []string{
		s.Check.Fail.Render("x"), s.Rail.Current.Render("Sign-in"), s.Code.Box.Render("CODE"),
		s.Plan.Warning.Render("PIM"), s.Notice.Render("n"), s.Code.QR.Render("██"),
	} {
		if sgrColor.MatchString(out) {
			t.Errorf("colour in no-colour output: %q", out)
		}
		for _, r := range out {
			if r > 0x7e && !strings.ContainsRune("█", r) {
				t.Errorf("non-ASCII rune %q in %q", r, out)
			}
		}
	}
}

func TestColourThemesDifferAndUseUnicode(t *testing.T) {
	dark, light := New(true, false), New(false, false)
	if dark.Icons.Done != "✓" || dark.ASCII {
		t.Errorf("colour icons: %+v", dark.Icons)
	}
	if dark.Check.Fail.GetForeground() == light.Check.Fail.GetForeground() {
		t.Error("dark and light themes use the same colour for failures")
	}
	if !sgrColor.MatchString(dark.Check.Pass.Render("ok")) {
		t.Skip("lipgloss rendered without colour in this environment")
	}
}

func TestPlainHasNoEscapes(t *testing.T) {
	s := Plain()
	for _, out := range []string{s.App.Title.Render("t"), s.Code.Box.Render("CODE"), s.Prompt.Selected.Render("> x")} {
		if strings.ContainsRune(out, 0x1b) {
			t.Errorf("escape in plain output %q", out)
		}
	}
}

func TestSpin(t *testing.T) {
	s := New(true, false)
	if s.Spin(0) == s.Spin(1) || s.Spin(-3) == "" || s.Spin(len(s.Icons.Spinner)) != s.Spin(0) {
		t.Error("spinner frames wrong")
	}
}
