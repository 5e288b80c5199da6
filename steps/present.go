package steps

import (
	"strings"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/platform"
)

// Presentation fields of the snapshots (issue 11, "screens render
// snapshots"): the front-ends (ui/tui, ui/plain) read what they draw from
// these and never import auth, checks or platform. A change to those
// packages' types stops here.

// Mark is how a row is drawn: its outcome, or that it is still running or
// not started.
type Mark string

const (
	MarkPass    Mark = "pass"
	MarkWarn    Mark = "warn"
	MarkFail    Mark = "fail"
	MarkSkip    Mark = "skip"
	MarkRunning Mark = "running"
	MarkPending Mark = "" // no result yet and not running
)

// MarkOf is the mark of a check outcome.
func MarkOf(o checks.Outcome) Mark {
	switch o {
	case checks.Pass:
		return MarkPass
	case checks.Warn:
		return MarkWarn
	case checks.Fail:
		return MarkFail
	case checks.Skip:
		return MarkSkip
	}
	return MarkPending
}

// Mark is the row's mark.
func (it Item) Mark() Mark {
	if it.Running {
		return MarkRunning
	}
	return MarkOf(it.Outcome)
}

// CodePrompt is a device code as the technician sees it (the secret half
// never leaves auth).
type CodePrompt struct {
	UserCode string
	// URL is where to enter the code (taken from the message when the
	// identity platform sent no verification URL).
	URL       string
	ExpiresOn time.Time
}

// BrowserView is the browser sign-in as the technician sees it.
type BrowserView struct {
	URL        string
	Port       int    // the local redirect port (http://localhost:PORT)
	Opened     bool   // a browser was launched on this machine
	SSHCommand string // over SSH: the port forward to run first
}

// ViewCode is the presentation of a device code (nil for nil).
func ViewCode(c *auth.DeviceCode) *CodePrompt {
	if c == nil {
		return nil
	}
	p := &CodePrompt{UserCode: c.UserCode, URL: c.VerificationURL, ExpiresOn: c.ExpiresOn}
	if p.URL == "" {
		for _, f := range strings.Fields(c.Message) {
			if strings.HasPrefix(f, "https://") {
				p.URL = strings.TrimRight(f, ".,;")
				break
			}
		}
	}
	return p
}

// ViewBrowser is the presentation of a browser sign-in prompt.
func ViewBrowser(b auth.BrowserPrompt) BrowserView {
	return BrowserView{URL: b.URL, Port: b.Port, Opened: b.Opened, SSHCommand: b.SSHCommand}
}

// DeviceCode is the code on screen: set while the device-code sign-in
// shows one.
func (d *SignInDetail) DeviceCode() *CodePrompt {
	if d == nil || d.Method != auth.MethodDevice {
		return nil
	}
	return ViewCode(d.Code)
}

// UsesBrowser reports whether the sign-in runs in a browser.
func (d *SignInDetail) UsesBrowser() bool { return d != nil && d.Method == auth.MethodBrowser }

// BrowserPrompt is the browser sign-in on screen: set once the browser
// sign-in has its address.
func (d *SignInDetail) BrowserPrompt() *BrowserView {
	if !d.UsesBrowser() || d.Browser == nil {
		return nil
	}
	v := ViewBrowser(*d.Browser)
	return &v
}

// Health states of the integration, as the health screen groups them.
const (
	HealthHealthy   = platform.StatusHealthy
	HealthUnhealthy = platform.StatusUnhealthy
	HealthPending   = platform.StatusPending
)

// Healthy reports whether the platform says data is flowing.
func (d *HealthDetail) Healthy() bool {
	return d != nil && d.Integration.Status == platform.StatusHealthy
}

// Unhealthy reports whether the platform reported a problem.
func (d *HealthDetail) Unhealthy() bool {
	return d != nil && d.Integration.Status == platform.StatusUnhealthy
}
