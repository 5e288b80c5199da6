package steps

import (
	"fmt"
	"strings"
	"time"

	"itdr-onboard/auth"
)

// maxCodes bounds how many fresh device codes are issued automatically.
const maxCodes = 8

// StallPause is how long the executor waits before polling again with the
// same device code after Microsoft's sign-in service did not answer.
const StallPause = 3 * time.Second

// SignInDetail is the sign-in screen's payload.
type SignInDetail struct {
	Method auth.Method
	// Code is the device code being shown (UserCode, VerificationURL,
	// ExpiresOn; the secret never leaves auth).
	Code *auth.DeviceCode
	// CodesIssued counts device codes issued in this step.
	CodesIssued int
	// Browser is set once the browser sign-in has its URL.
	Browser *auth.BrowserPrompt
	// Notice explains a switch or a recoverable problem.
	Notice string
	// Err is the classified failure, if any.
	Err *auth.Error
}

// SignInStep signs the technician in (device code, browser fallback), then
// guards against the wrong tenant and loads who is signed in where.
type SignInStep struct {
	status Status
	d      SignInDetail
	fail   *Failure
	// prefetch are the later steps' checks that need only the token
	// (the onboarding's tenant prerequisites and role checks): they start
	// with the first reads after sign-in instead of after this step.
	prefetch []string
}

// NewSignInStep builds the step.
func NewSignInStep() *SignInStep { return &SignInStep{status: StatusPending} }

func (p *SignInStep) ID() ID         { return SignIn }
func (p *SignInStep) Title() string  { return "Sign-in" }
func (p *SignInStep) Status() Status { return p.status }

func (p *SignInStep) Enter(s *Session) []Effect {
	p.fail = nil
	p.d = SignInDetail{}
	if s.SignedIn {
		p.status = StatusRunning
		return []Effect{LoadTenant{}}
	}
	p.status = StatusRunning
	if s.Opt.AuthMethod == auth.MethodBrowser {
		return p.browser("")
	}
	p.d.Method = auth.MethodDevice
	return []Effect{StartDeviceCode{}}
}

func (p *SignInStep) browser(notice string) []Effect {
	p.d.Method = auth.MethodBrowser
	p.d.Code = nil
	p.d.Notice = notice
	p.d.Browser = nil
	p.status = StatusRunning
	p.fail = nil
	return []Effect{NewAttempt{}, StartBrowser{}}
}

func (p *SignInStep) failWith(kind FailKind, ae *auth.Error) {
	p.status = StatusFailed
	p.d.Err = ae
	p.fail = &Failure{Kind: kind, Message: ae.Message, Remedy: ae.Action, Err: ae}
	p.d.Notice = ""
}

func (p *SignInStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case DeviceCodeIssued:
		if ev.Err != nil {
			return p.failed(s, ev.Err)
		}
		c := ev.Code
		p.d.Code = &c
		p.d.CodesIssued++
		return []Effect{AwaitDeviceCode{Code: c}}
	case SignInFailed:
		return p.failed(s, ev.Err)
	case SignInStalled:
		if p.d.Method == auth.MethodDevice && p.d.Code != nil {
			why := ""
			if ev.Err != nil && ev.Err.Message != "" {
				why = " (" + strings.TrimSuffix(ev.Err.Message, ".") + ")"
			}
			p.d.Notice = "Microsoft's sign-in service is not answering" + why +
				". The code stays the same and works until it expires; sign in with it as usual — the wizard keeps asking Microsoft."
		}
	case BrowserPrompted:
		pr := ev.Prompt
		p.d.Browser = &pr
	case PasteRedirect:
		if p.d.Method == auth.MethodBrowser && p.d.Browser != nil {
			return []Effect{DeliverRedirect{URL: ev.URL}}
		}
	case RedirectDelivered:
		if ev.Err != nil {
			p.d.Notice = "That URL did not complete the sign-in: " + ev.Err.Error()
		}
	case UseBrowser:
		if p.d.Method != auth.MethodBrowser {
			return p.browser("Switched to browser sign-in.")
		}
	case NewCode:
		if p.d.Method == auth.MethodDevice {
			p.status = StatusRunning
			p.fail = nil
			return []Effect{NewAttempt{}, StartDeviceCode{}}
		}
	case SignedIn:
		acct := ev.Account
		if s.TenantID != "" && acct.TenantID != "" && !equalFold(acct.TenantID, s.TenantID) {
			p.status = StatusFailed
			p.fail = wrongTenant(s, acct)
			return nil
		}
		s.Account, s.SignedIn = acct, true
		if s.Opt.Tenant == "" {
			s.TenantID = acct.TenantID
		}
		p.d.Code, p.d.Notice = nil, ""
		return []Effect{LoadTenant{Prefetch: p.prefetch}}
	case TenantLoaded:
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: "Signed in, but could not read the tenant: " + ev.Err.Error(),
				Remedy: "Retry; if it persists, check that the account can read the directory.", Err: ev.Err}
			return nil
		}
		s.Org, s.User = ev.Org, ev.User
		p.status = StatusDone
	}
	return nil
}

// Reset makes the step pending again (an earlier step failed in the background).
func (p *SignInStep) Reset() { p.status, p.d, p.fail = StatusPending, SignInDetail{}, nil }

func wrongTenant(s *Session, acct auth.Account) *Failure {
	want := s.Opt.Tenant
	if !equalFold(want, s.TenantID) {
		want += " (" + s.TenantID + ")"
	}
	return &Failure{Kind: FailStopped,
		Message: fmt.Sprintf("Signed in as %s, whose tenant is %s, but this run is for tenant %s. Nothing was changed.",
			acct.Username, acct.TenantID, want),
		Remedy: "Sign in with an account of the customer's tenant (not a partner or guest account), or correct --tenant."}
}

func (p *SignInStep) failed(s *Session, err error) []Effect {
	ae := auth.Classify(err)
	if ae == nil {
		ae = &auth.Error{Class: auth.ClassUnknown, Message: err.Error(), Err: err}
	}
	switch {
	case ae.Class == auth.ClassExpired && p.d.Method == auth.MethodDevice && p.d.CodesIssued < maxCodes:
		p.d.Notice = "The code expired; here is a new one."
		return []Effect{NewAttempt{}, StartDeviceCode{}}
	case (ae.SwitchToBrowser() || ae.Class == auth.ClassMFARequired) && p.d.Method == auth.MethodDevice && s.Opt.AutoFallback:
		// Blocked device code, or an MFA prompt the device-code flow could
		// not satisfy: the browser (auth code + PKCE) can.
		return p.browser(ae.Message + " Switched to browser sign-in.")
	case ae.SwitchToBrowser() && p.d.Method == auth.MethodDevice:
		p.failWith(FailStopped, ae)
		p.fail.Remedy = "Use browser sign-in instead: press b on this screen, or run again with --auth browser (or --auth auto)."
		return nil
	}
	kind := FailError
	switch ae.Class {
	case auth.ClassWrongAccountType, auth.ClassNotAssigned, auth.ClassTenantNotFound, auth.ClassDeclined,
		auth.ClassMFAEnrollment, auth.ClassAppNotFound:
		kind = FailStopped
	}
	p.failWith(kind, ae)
	return nil
}

func (p *SignInStep) Snapshot(s *Session) Snapshot {
	d := p.d
	snap := Snapshot{ID: SignIn, Title: p.Title(), Status: p.status, Fail: p.fail, Detail: &d}
	switch {
	case p.status == StatusFailed:
		snap.Next = retryUnlessFinal(p.fail)
		if p.d.Err != nil && p.d.Err.SwitchToBrowser() {
			snap.Next = append(snap.Next, OptUseBrowser)
		}
	case d.Method == auth.MethodDevice && d.Code != nil:
		snap.Line = "waiting for you to sign in with the code"
		snap.Next = []Option{OptCopy, OptQR, OptNewCode, OptUseBrowser}
	case d.Method == auth.MethodBrowser && d.Browser != nil:
		snap.Line = "waiting for the browser sign-in"
		snap.Next = []Option{OptPasteURL}
	case p.status == StatusDone:
		snap.Line = s.Who()
	default:
		snap.Line = "starting sign-in"
	}
	return snap
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
