package tui

import (
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	qrcode "github.com/skip2/go-qrcode"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// signInDetail returns the sign-in payload of a snapshot (nil when absent).
func signInDetail(snap steps.Snapshot) *steps.SignInDetail {
	d, _ := snap.Detail.(*steps.SignInDetail)
	return d
}

// verificationURL is the URL to open for a device code.
func verificationURL(c *steps.CodePrompt) string {
	if c == nil {
		return ""
	}
	return san(c.URL)
}

// spacedCode letter-spaces the user code so it reads unmistakably. A code
// with its own separators ("3742-5GDV") keeps its groups; otherwise a wider
// gap goes every three or four characters.
func spacedCode(code string) string {
	code = san(code)
	if groups := strings.FieldsFunc(code, func(r rune) bool { return r == '-' || r == ' ' }); len(groups) > 1 {
		for i, g := range groups {
			groups[i] = letterSpace(g)
		}
		return strings.Join(groups, "  -  ")
	}
	r := []rune(code)
	group := 3
	if len(r)%4 == 0 && len(r)%3 != 0 {
		group = 4
	}
	var b strings.Builder
	for i, c := range r {
		if i > 0 {
			if i%group == 0 {
				b.WriteString("   ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteRune(c)
	}
	return b.String()
}

func letterSpace(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// codeBox renders the user code boxed; it falls back to the bare code when
// the box does not fit.
func codeBox(st theme.Styles, code string, width int) []string {
	spaced := spacedCode(code)
	box := st.Code.Box.Render(st.Code.Code.Render(spaced))
	if lipgloss.Width(box) <= width-2 {
		return indent(lines(box), "  ")
	}
	box = st.Code.Box.UnsetPadding().Render(st.Code.Code.Render(san(code)))
	if lipgloss.Width(box) <= width {
		return lines(box)
	}
	return []string{st.Code.Code.Render(san(code))}
}

func indent(ls []string, p string) []string {
	for i := range ls {
		ls[i] = p + ls[i]
	}
	return ls
}

// renderSignIn renders the sign-in: the device code large and boxed with
// the verification URL and a live countdown, or the browser sign-in's URL
// and instructions. At small sizes the code and URL come first.
func renderSignIn(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	d := signInDetail(snap)
	var out []string
	compact := height < 16
	switch {
	case snap.Status == steps.StatusFailed:
		out = append(out, title(st, "Sign-in"))
		if d != nil && d.Notice != "" {
			out = append(out, wrapStyled(st.Notice.Render, d.Notice, " ", width)...)
		}
		out = append(out, "")
		out = append(out, renderFailure(st, snap.Fail, width)...)
	case d.DeviceCode() != nil:
		code := d.DeviceCode()
		url := verificationURL(code)
		left := code.ExpiresOn.Sub(now)
		cd := "code expires in " + countdown(left)
		cdStyle := st.Code.Countdown
		if left < time.Minute {
			cdStyle = st.Code.Expiring
		}
		if left <= 0 {
			cd = "code expired; getting a new one" + st.Icons.Ellipsis
		}
		if !compact {
			out = append(out, title(st, "Sign in to the customer's Microsoft 365 tenant"),
				st.App.Muted.Render(" Use a Global Administrator account of the tenant (not a partner account)."), "")
		}
		if ansi.StringWidth(url)+10 <= width {
			out = append(out, " 1. Open  "+st.Code.URL.Render(url))
		} else {
			out = append(out, " 1. Open")
			out = append(out, urlLines(st, url, width)...)
		}
		out = append(out, " 2. Enter the code:")
		out = append(out, codeBox(st, code.UserCode, width)...)
		out = append(out, " "+cdStyle.Render(cd))
		if d.Notice != "" {
			out = append(out, wrapStyled(st.Notice.Render, d.Notice, " ", width)...)
		}
		if !compact && d.CodesIssued > 1 && d.Notice == "" {
			out = append(out, st.App.Muted.Render(" This is a new code; the earlier one no longer works."))
		}
	case d.BrowserPrompt() != nil:
		b := d.BrowserPrompt()
		out = append(out, title(st, "Browser sign-in"))
		if d.Notice != "" {
			out = append(out, wrapStyled(st.Notice.Render, d.Notice, " ", width)...)
		}
		if b.Opened {
			out = append(out, " A browser window was opened. Finish the sign-in there.")
			out = append(out, st.App.Muted.Render(" If it did not open, use this address:"))
		} else {
			out = append(out, " Open this address in a browser and sign in:")
		}
		// The authorize URL is long: every character is shown (c copies it whole).
		out = append(out, urlLines(st, san(b.URL), width)...)
		if b.SSHCommand != "" {
			out = append(out, "", " Over SSH, first run this on your own computer:")
			out = append(out, "   "+st.App.Strong.Render(san(b.SSHCommand)))
		}
		if !compact {
			out = append(out, "", st.App.Muted.Render(" If the browser ends on a page that cannot be reached (localhost),"),
				st.App.Muted.Render(" copy that page's address and paste it below."))
		}
	case snap.Status == steps.StatusDone:
		out = append(out, title(st, "Sign-in"), " "+st.Check.Pass.Render(st.Icons.Pass)+" "+san(s.Who()))
	default:
		out = append(out, title(st, "Sign-in"))
		if d != nil && d.Notice != "" {
			out = append(out, wrapStyled(st.Notice.Render, d.Notice, " ", width)...)
		}
		line := snap.Line
		switch {
		case s != nil && s.SignedIn:
			line = "signed in; reading the tenant"
		case d.UsesBrowser():
			line = "starting the browser sign-in"
		case line == "":
			line = "starting sign-in"
		}
		out = append(out, " "+st.Check.Running.Render(st.Spin(frame(now)))+" "+san(line)+st.Icons.Ellipsis)
	}
	return join(fit(st, out, width, height))
}

// urlLines shows an address on one line of its own whenever it fits the
// width (a terminal copies a broken line as two), and otherwise cuts it
// only at the right edge, never at a '/' or other break, so the pieces
// carry every character in order.
func urlLines(st theme.Styles, u string, width int) []string {
	switch w := ansi.StringWidth(u); {
	case w < width:
		return []string{" " + st.Code.URL.Render(u)}
	case w == width:
		return []string{st.Code.URL.Render(u)}
	}
	var out []string
	for _, l := range strings.Split(ansi.Hardwrap(u, max(width-1, 8), false), "\n") {
		out = append(out, " "+st.Code.URL.Render(l))
	}
	return out
}

// qrBlock renders the QR code of url with half blocks (two modules per
// character cell, two-module quiet zone). ok is false when it does not fit.
func qrBlock(st theme.Styles, url string, width, height int) (string, bool) {
	q, err := qrcode.New(url, qrcode.Low)
	if err != nil {
		return "", false
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	n := len(bm)
	const quiet = 2
	size := n + 2*quiet
	if size > width || (size+1)/2 > height {
		return "", false
	}
	dark := func(y, x int) bool {
		y -= quiet
		x -= quiet
		if y < 0 || x < 0 || y >= n || x >= n {
			return false
		}
		return bm[y][x]
	}
	// Light modules are drawn in the foreground colour: on a dark terminal
	// (or with the theme's explicit white-on-black) that is a correct code.
	invert := !st.NoColor || st.IsDark
	filled := func(y, x int) bool {
		if y >= size {
			return false
		}
		return dark(y, x) != invert
	}
	var b strings.Builder
	for y := 0; y < size; y += 2 {
		if y > 0 {
			b.WriteByte('\n')
		}
		var row strings.Builder
		for x := 0; x < size; x++ {
			top, bot := filled(y, x), filled(y+1, x)
			switch {
			case top && bot:
				row.WriteString("█")
			case top:
				row.WriteString("▀")
			case bot:
				row.WriteString("▄")
			default:
				row.WriteByte(' ')
			}
		}
		b.WriteString(st.Code.QR.Render(row.String()))
	}
	return b.String(), true
}
