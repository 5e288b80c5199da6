package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// Class is what kind of sign-in failure an error is. The step engine and the
// UI branch on it; docs/errors.md lists every class with its message.
type Class string

const (
	ClassDeclined          Class = "declined"            // the user refused the sign-in or consent
	ClassExpired           Class = "expired"             // the device code expired before it was used
	ClassBadCode           Class = "bad-code"            // the device code was not recognised / already used
	ClassDeviceCodeBlocked Class = "device-code-blocked" // policy blocks device-code sign-in: switch to browser
	ClassBlocked           Class = "blocked"             // Conditional Access blocked a browser sign-in
	ClassMFARequired       Class = "mfa-required"        // multi-factor authentication needed
	ClassMFAEnrollment     Class = "mfa-enrollment"      // the account must register MFA first
	ClassNotAssigned       Class = "not-assigned"        // the user is not assigned to the sign-in app
	ClassTenantNotFound    Class = "tenant-not-found"    // --tenant names no tenant
	ClassAppNotFound       Class = "app-not-found"       // the client id is unknown / not a public client
	ClassWrongAccountType  Class = "wrong-account-type"  // guest, partner or personal account
	ClassConsentRequired   Class = "consent-required"    // consent is missing and this user cannot grant it
	ClassRefreshRevoked    Class = "refresh-revoked"     // saved sign-in expired or revoked: sign in again
	ClassAccountBlocked    Class = "account-blocked"     // the account is disabled or locked
	ClassPasswordExpired   Class = "password-expired"    // the account's password must be changed first
	ClassServiceMissing    Class = "service-missing"     // the resource (e.g. Exchange Online) has no service principal
	ClassUnavailable       Class = "unavailable"         // Microsoft answered 429/5xx or temporarily_unavailable
	ClassNetwork           Class = "network"             // DNS, TCP, TLS or timeout reaching a host
	ClassTimeout           Class = "timeout"             // our own deadline passed
	ClassCancelled         Class = "cancelled"           // the context was cancelled
	ClassNotSignedIn       Class = "not-signed-in"       // a token was asked for before any sign-in
	ClassUnknown           Class = "unknown"
)

// Error is a classified sign-in failure. Error() never contains tokens,
// device codes, authorization codes, PKCE verifiers or URL query strings.
type Error struct {
	Class Class
	// Code is the AADSTS number, 0 when there is none.
	Code int
	// OAuthError is the OAuth "error" value (invalid_grant, expired_token, ...).
	OAuthError string
	// Description is the first line of error_description without trace ids.
	Description   string
	TraceID       string
	CorrelationID string
	// Message is one sentence a technician understands.
	Message string
	// Action is the next thing to do.
	Action string
	// Err is the underlying error (MSAL's, the network's, ...).
	Err error
}

// Error returns the message and the action.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	if e.Action == "" {
		return e.Message
	}
	return e.Message + " " + e.Action
}

// Unwrap returns the underlying error (so errors.Is(err, context.Canceled) works).
func (e *Error) Unwrap() error { return e.Err }

// SwitchToBrowser reports whether the failure means device-code sign-in is
// blocked in this tenant and browser sign-in should be offered at once
// (AADSTS53003, 530033, 530035, 53000, 50097 during device-code sign-in).
func (e *Error) SwitchToBrowser() bool { return e != nil && e.Class == ClassDeviceCodeBlocked }

// Retryable reports whether starting the same sign-in again can succeed
// without anything changing in the tenant.
func (e *Error) Retryable() bool {
	if e == nil {
		return false
	}
	switch e.Class {
	case ClassDeclined, ClassExpired, ClassBadCode, ClassNetwork, ClassTimeout, ClassUnavailable,
		ClassCancelled, ClassRefreshRevoked, ClassMFARequired, ClassNotSignedIn:
		return true
	}
	return false
}

// rule is one row of the classification table (docs/errors.md).
type rule struct {
	Class   Class
	Message string
	Action  string
}

const (
	actionRestart      = "Start the sign-in again."
	actionSignInAgain  = "Sign in again."
	actionAdminAccount = "Sign in with a Global Administrator account of the customer's tenant."
)

// codeRules maps AADSTS codes to their class, message and action.
var codeRules = map[int]rule{
	70019: {ClassExpired, "The sign-in code expired before the sign-in was finished (AADSTS70019).", "Start the sign-in again to get a new code."},
	70018: {ClassBadCode, "The sign-in code was not recognised (AADSTS70018).", "Start the sign-in again and enter the new code exactly as shown."},
	90120: {ClassBadCode, "This sign-in code was already used or declined (AADSTS90120).", actionRestart},
	50134: {ClassBadCode, "The code was approved in a different Microsoft datacenter (AADSTS50134).", actionRestart},

	53003:  {ClassDeviceCodeBlocked, "This tenant blocks device-code sign-in (Conditional Access, AADSTS53003).", "Switching to browser sign-in."},
	530033: {ClassDeviceCodeBlocked, "This tenant's policy does not allow device-code sign-in (AADSTS530033).", "Switching to browser sign-in."},
	530035: {ClassDeviceCodeBlocked, "This tenant blocks device-code sign-in (security defaults, AADSTS530035).", "Switching to browser sign-in."},
	53000:  {ClassDeviceCodeBlocked, "This tenant requires a compliant or managed device, which device-code sign-in cannot prove (AADSTS53000).", "Switching to browser sign-in."},
	50097:  {ClassDeviceCodeBlocked, "This tenant requires device authentication, which device-code sign-in cannot provide (AADSTS50097).", "Switching to browser sign-in."},

	50076:   {ClassMFARequired, "This sign-in needs multi-factor authentication (AADSTS50076).", "Sign in again and complete the multi-factor prompt; if device-code sign-in keeps failing, use browser sign-in (--auth browser)."},
	50079:   {ClassMFAEnrollment, "This account must register for multi-factor authentication first (AADSTS50079).", "Register at https://aka.ms/mfasetup with this account, then sign in again."},
	50105:   {ClassNotAssigned, "This account is not assigned to the sign-in application in this tenant (AADSTS50105).", "Ask a tenant administrator to assign the account to the application, or " + lowerFirst(actionAdminAccount)},
	90002:   {ClassTenantNotFound, "The tenant was not found (AADSTS90002).", "Check --tenant: use the tenant ID or a verified domain such as contoso.onmicrosoft.com."},
	700016:  {ClassAppNotFound, "The sign-in application was not found in this tenant (AADSTS700016).", "Check --client-id and --tenant; the application must exist and be available to this tenant."},
	7000218: {ClassAppNotFound, "The sign-in application is not set up for public-client sign-in (AADSTS7000218).", "Use the default --client-id, or enable \"Allow public client flows\" on the application."},
	50020:   {ClassWrongAccountType, "This account is not a member of the customer's tenant (AADSTS50020).", "Sign in with a member account of the customer's tenant, not a partner, guest or personal account."},
	90072:   {ClassWrongAccountType, "This account is a guest in the customer's tenant and cannot sign in there (AADSTS90072).", "Sign in with a member account of the customer's tenant, not a partner, guest or personal account."},
	65001:   {ClassConsentRequired, "The sign-in application has not been granted consent in this tenant (AADSTS65001).", actionAdminAccount},
	90094:   {ClassConsentRequired, "This tenant only lets administrators grant consent, and this account cannot (AADSTS90094).", actionAdminAccount},
	90095:   {ClassConsentRequired, "This tenant requires an administrator to approve the sign-in application (AADSTS90095).", actionAdminAccount},
	65004:   {ClassDeclined, "Consent was declined during sign-in (AADSTS65004).", "Start the sign-in again and accept the permissions request."},

	50173:  {ClassRefreshRevoked, "The saved sign-in is no longer valid: the password changed or sessions were revoked (AADSTS50173).", actionSignInAgain},
	70008:  {ClassRefreshRevoked, "The saved sign-in has expired (AADSTS70008).", actionSignInAgain},
	700082: {ClassRefreshRevoked, "The saved sign-in expired because it was not used for a long time (AADSTS700082).", actionSignInAgain},
	50058:  {ClassRefreshRevoked, "There is no active sign-in session for this account (AADSTS50058).", actionSignInAgain},

	50057:  {ClassAccountBlocked, "This account is disabled (AADSTS50057).", "Use an enabled administrator account, or ask a tenant administrator to enable this one."},
	50053:  {ClassAccountBlocked, "This account is locked after too many sign-in attempts (AADSTS50053).", "Wait for the lock to clear or ask a tenant administrator to unlock it, then sign in again."},
	50055:  {ClassPasswordExpired, "This account's password has expired (AADSTS50055).", "Change the password at https://aka.ms/sspr (or sign in at https://portal.office.com and follow the prompt), then sign in again."},
	500011: {ClassServiceMissing, "The requested Microsoft service is not set up in this tenant (AADSTS500011).", "Check that the tenant has an Exchange Online licence, then sign in again."},
}

// oauthRules maps OAuth "error" values without a more specific AADSTS code.
var oauthRules = map[string]rule{
	"authorization_declined":  {ClassDeclined, "The sign-in was declined.", "Start the sign-in again and approve it."},
	"access_denied":           {ClassDeclined, "The sign-in was declined or cancelled in the browser.", "Start the sign-in again and approve it."},
	"expired_token":           {ClassExpired, "The sign-in code expired before the sign-in was finished.", "Start the sign-in again to get a new code."},
	"bad_verification_code":   {ClassBadCode, "The sign-in code was not recognised.", "Start the sign-in again and enter the new code exactly as shown."},
	"temporarily_unavailable": {ClassUnavailable, "Microsoft sign-in is temporarily unavailable.", "Wait a minute, then try again."},
	"interaction_required":    {ClassRefreshRevoked, "This account has to sign in interactively again.", actionSignInAgain},
}

// Fixed rows for failures that carry no AADSTS code. Messages with %s get the host.
var (
	ruleNetwork     = rule{ClassNetwork, "Cannot reach %s.", "Check this computer's network connection, DNS, proxy and firewall, then try again."}
	ruleTLS         = rule{ClassNetwork, "Cannot reach %s securely: its TLS certificate was not accepted.", "If a proxy inspects TLS traffic, let this host through uninspected, then try again."}
	ruleCancelled   = rule{ClassCancelled, "Sign-in was cancelled.", "Start the sign-in again when ready."}
	ruleTimeout     = rule{ClassTimeout, "Sign-in did not finish in time.", actionRestart}
	ruleNotSignedIn = rule{ClassNotSignedIn, "Nobody is signed in yet.", "Sign in first."}
	ruleNoToken     = rule{ClassRefreshRevoked, "No saved sign-in can provide this token.", actionSignInAgain}
	ruleUnavailable = rule{ClassUnavailable, "Microsoft sign-in at %s is temporarily unavailable.", "Wait a minute, then try again."}
	ruleBrowserCA   = rule{ClassBlocked, "Conditional Access blocked this sign-in.", "Ask a tenant administrator to check the Entra sign-in log for the policy that blocked it, or sign in from a compliant device."}
	ruleUnknown     = rule{ClassUnknown, "Sign-in failed.", "Try again; if it keeps failing, give the trace ID to support."}
)

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

var (
	reAADSTS      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(\d+)`) })
	reTraceID     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Trace ID:\s*([0-9A-Za-z-]+)`) })
	reCorrelation = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Correlation ID:\s*([0-9A-Za-z-]+)`) })
	reURLQuery    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(https?://[^\s?#"']*)[?#][^\s"']*`) })
)

// stsBody is the JSON error body of the Microsoft identity platform.
type stsBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	Suberror         string `json:"suberror"`
}

// redirectError is an error delivered to the local redirect listener
// (?error=...&error_description=...).
type redirectError struct {
	OAuthError  string
	Description string
}

func (e *redirectError) Error() string {
	return "authorization failed: " + e.OAuthError + ": " + firstLine(e.Description)
}

// Classify turns any error from this package's sign-in and token calls (or
// MSAL's own) into an *Error. It returns nil for nil and e itself for an *Error.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	e := &Error{Err: err}

	// The AADSTS details: from a redirect error, or JSON after the first '{'.
	var re *redirectError
	if errors.As(err, &re) {
		e.OAuthError = re.OAuthError
		e.Description = firstLine(re.Description)
		e.Code = aadstsCode(re.Description)
		e.TraceID = submatch(reTraceID(), re.Description)
		e.CorrelationID = submatch(reCorrelation(), re.Description)
	} else {
		text := err.Error()
		if body, ok := parseSTS(text); ok {
			e.OAuthError = body.Error
			e.Description = firstLine(body.ErrorDescription)
			if len(body.ErrorCodes) > 0 {
				e.Code = body.ErrorCodes[0]
			} else {
				e.Code = aadstsCode(body.ErrorDescription)
			}
			e.TraceID = body.TraceID
			e.CorrelationID = body.CorrelationID
			if e.TraceID == "" {
				e.TraceID = submatch(reTraceID(), body.ErrorDescription)
			}
			if e.CorrelationID == "" {
				e.CorrelationID = submatch(reCorrelation(), body.ErrorDescription)
			}
		} else if e.Code == 0 {
			e.Code = aadstsCode(text)
			if e.Code != 0 {
				e.Description = sanitize(firstLine(text[strings.Index(text, "AADSTS"):]))
			}
		}
	}
	if r, ok := codeRules[e.Code]; ok {
		return e.apply(r, "")
	}
	if r, ok := oauthRules[e.OAuthError]; ok {
		return e.apply(r, "")
	}

	switch {
	case errors.Is(err, context.Canceled):
		return e.apply(ruleCancelled, "")
	case errors.Is(err, errNotSignedIn):
		return e.apply(ruleNotSignedIn, "")
	}
	if host, tlsErr, ok := networkFailure(err); ok {
		if tlsErr {
			return e.apply(ruleTLS, host)
		}
		return e.apply(ruleNetwork, host)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return e.apply(ruleTimeout, "")
	}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil && (ce.Resp.StatusCode == 429 || ce.Resp.StatusCode >= 500) {
		host := ""
		if ce.Req != nil && ce.Req.URL != nil {
			host = ce.Req.URL.Host
		}
		return e.apply(ruleUnavailable, host)
	}
	var hse *httpStatusError
	if errors.As(err, &hse) && (hse.status == 429 || hse.status >= 500) {
		return e.apply(ruleUnavailable, hse.host)
	}
	if strings.Contains(err.Error(), "no token found") {
		return e.apply(ruleNoToken, "")
	}
	e.apply(ruleUnknown, "")
	detail := e.Description
	if detail == "" && e.OAuthError != "" {
		detail = e.OAuthError
	}
	if detail == "" && errors.As(err, &ce) && ce.Resp != nil && ce.Req != nil && ce.Req.URL != nil {
		detail = fmt.Sprintf("%s answered HTTP %d", ce.Req.URL.Host, ce.Resp.StatusCode)
	}
	if detail == "" {
		detail = sanitize(firstLine(err.Error()))
	}
	if detail != "" {
		e.Message = "Sign-in failed: " + strings.TrimRight(detail, ".") + "."
	}
	return e
}

func (e *Error) apply(r rule, host string) *Error {
	e.Class = r.Class
	e.Message = r.Message
	e.Action = r.Action
	if strings.Contains(e.Message, "%s") {
		if host == "" {
			host = "the sign-in service"
		}
		e.Message = fmt.Sprintf(e.Message, host)
	}
	if e.Code != 0 && !strings.Contains(e.Message, "AADSTS") {
		e.Message = strings.TrimSuffix(e.Message, ".") + " (AADSTS" + strconv.Itoa(e.Code) + ")."
	}
	return e
}

// parseSTS decodes the JSON object that starts at the first '{' of text.
func parseSTS(text string) (stsBody, bool) {
	i := strings.IndexByte(text, '{')
	if i < 0 {
		return stsBody{}, false
	}
	var b stsBody
	if err := json.NewDecoder(strings.NewReader(text[i:])).Decode(&b); err != nil {
		return stsBody{}, false
	}
	if b.Error == "" && b.ErrorDescription == "" && len(b.ErrorCodes) == 0 {
		return stsBody{}, false
	}
	return b, true
}

func aadstsCode(s string) int {
	m := reAADSTS().FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func submatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// firstLine returns the first line of s, without "Trace ID:" and later parts.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "Trace ID:"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// sanitize strips URL query strings and fragments, which may carry codes.
func sanitize(s string) string {
	return reURLQuery().ReplaceAllString(s, "$1")
}

// networkFailure reports whether err is a transport failure and the host involved.
func networkFailure(err error) (host string, isTLS bool, ok bool) {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &recordErr) {
		return host, true, true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if host == "" {
			host = dns.Name
		}
		return host, false, true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		if host == "" && op.Addr != nil {
			host = op.Addr.String()
		}
		return host, false, true
	}
	// Timeouts count as network failures only inside an HTTP request
	// (context.DeadlineExceeded alone is a net.Error with Timeout() too).
	var ne net.Error
	if ue != nil && errors.As(err, &ne) && ne.Timeout() {
		return host, false, true
	}
	return "", false, false
}

var errNotSignedIn = errors.New("not signed in")
