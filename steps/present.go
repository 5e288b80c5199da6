package steps

import (
	"sort"
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

// inPlanOrder orders the onboarding's changes as the technician accepted
// them, not as they happened to finish (independent writes run side by
// side): the role fixes in the plan's order, then what the mapping step's
// question listed (the service principal, each permission in the order
// asked, the mapping), then anything else in the order it happened.
func inPlanOrder(s *Session, cs []checks.Applied) []checks.Applied {
	type key struct{ group, order, index int }
	rank := map[string]key{}
	for i, c := range s.Plan {
		if _, ok := rank[c.ID]; !ok {
			rank[c.ID] = key{0, 0, i}
		}
	}
	grant := map[string]int{}
	for i, g := range append(append([]string{}, s.Consent.Granted...), s.Consent.AlreadyGranted...) {
		if _, ok := grant[g]; !ok {
			grant[g] = i
		}
	}
	keyOf := func(i int) key {
		c := cs[i].Change
		if k, ok := rank[c.ID]; ok {
			return k
		}
		k := key{1, c.Order, len(grant)}
		if j, ok := grant[strings.TrimPrefix(c.ID, changeGrantPrefix)]; ok && strings.HasPrefix(c.ID, changeGrantPrefix) {
			k.index = j
		}
		return k
	}
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keyOf(idx[a]), keyOf(idx[b])
		if ka.group != kb.group {
			return ka.group < kb.group
		}
		if ka.order != kb.order {
			return ka.order < kb.order
		}
		return ka.index < kb.index
	})
	out := make([]checks.Applied, len(cs))
	for i, j := range idx {
		out[i] = cs[j]
	}
	return out
}
