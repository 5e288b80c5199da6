package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// msalText builds the error text MSAL Go produces for a non-200 reply.
func msalText(url string, body string) error {
	return fmt.Errorf("http call(%s)(POST) error: reply status code was 400:\n%s", url, body)
}

const tokenURL = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"

func TestClassifyEveryCodeRule(t *testing.T) {
	for code, r := range codeRules {
		err := msalText(tokenURL, stsError(code, "invalid_grant", "Some description from Microsoft."))
		e := Classify(err)
		if e.Class != r.Class || e.Code != code || e.Message != r.Message || e.Action != r.Action {
			t.Errorf("AADSTS%d: got %s %q %q", code, e.Class, e.Message, e.Action)
		}
		if !strings.Contains(e.Message, fmt.Sprintf("AADSTS%d", code)) {
			t.Errorf("AADSTS%d: message does not name the code: %q", code, e.Message)
		}
		if e.TraceID != "0a1b2c3d-0000-4000-8000-000000000001" || e.CorrelationID != "9f8e7d6c-0000-4000-8000-000000000002" {
			t.Errorf("AADSTS%d: trace %q correlation %q", code, e.TraceID, e.CorrelationID)
		}
		if want := fmt.Sprintf("AADSTS%d: Some description from Microsoft.", code); e.Description != want {
			t.Errorf("AADSTS%d: description %q", code, e.Description)
		}
		if e.OAuthError != "invalid_grant" || !errors.Is(e, err) {
			t.Errorf("AADSTS%d: oauth %q / unwrap broken", code, e.OAuthError)
		}
		if e.Error() != e.Message+" "+e.Action {
			t.Errorf("Error() = %q", e.Error())
		}
	}
}

func TestClassifyMessagesAndActions(t *testing.T) {
	cases := []struct {
		err     error
		class   Class
		code    int
		message string
		action  string
		sw      bool
	}{
		{msalText(tokenURL, stsError(53003, "invalid_grant", "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")),
			ClassDeviceCodeBlocked, 53003, "This tenant blocks device-code sign-in (Conditional Access, AADSTS53003).", "Switching to browser sign-in.", true},
		{msalText(tokenURL, stsError(530035, "invalid_grant", "Access has been blocked by security defaults.")),
			ClassDeviceCodeBlocked, 530035, "This tenant blocks device-code sign-in (security defaults, AADSTS530035).", "Switching to browser sign-in.", true},
		{msalText(tokenURL, stsError(530033, "invalid_grant", "x")), ClassDeviceCodeBlocked, 530033, "", "Switching to browser sign-in.", true},
		{msalText(tokenURL, stsError(53000, "invalid_grant", "Device is not in required device state: compliant.")), ClassDeviceCodeBlocked, 53000, "", "", true},
		{msalText(tokenURL, stsError(50097, "invalid_grant", "Device authentication is required.")), ClassDeviceCodeBlocked, 50097, "", "", true},
		{msalText(tokenURL, `{"error":"authorization_declined","error_description":"AADSTS70000: The user denied the authorization request.","error_codes":[70000]}`),
			ClassDeclined, 70000, "The sign-in was declined (AADSTS70000).", "Start the sign-in again and approve it.", false},
		{msalText(tokenURL, `{"error":"expired_token","error_description":"AADSTS70019: Verification code expired.\r\nTrace ID: t\r\n","error_codes":[70019]}`),
			ClassExpired, 70019, "The sign-in code expired before the sign-in was finished (AADSTS70019).", "Start the sign-in again to get a new code.", false},
		{msalText(tokenURL, `{"error":"expired_token"}`), ClassExpired, 0, "The sign-in code expired before the sign-in was finished.", "", false},
		{msalText(tokenURL, `{"error":"bad_verification_code","error_description":"AADSTS70018: Invalid verification code entered."}`),
			ClassBadCode, 70018, "The sign-in code was not recognised (AADSTS70018).", "", false},
		{msalText(tokenURL, stsError(50076, "invalid_grant", "MFA")), ClassMFARequired, 50076, "This sign-in needs multi-factor authentication (AADSTS50076).", "Sign in again and complete the multi-factor prompt; if device-code sign-in keeps failing, use browser sign-in (--auth browser).", false},
		{msalText(tokenURL, stsError(50079, "interaction_required", "enrol")), ClassMFAEnrollment, 50079, "", "Register at https://aka.ms/mfasetup with this account, then sign in again.", false},
		{msalText(tokenURL, stsError(50105, "invalid_grant", "not assigned")), ClassNotAssigned, 50105, "", "", false},
		{msalText(tokenURL, stsError(90002, "invalid_tenant", "Tenant 'x' not found.")), ClassTenantNotFound, 90002, "The tenant was not found (AADSTS90002).", "Check --tenant: use the tenant ID or a verified domain such as contoso.onmicrosoft.com.", false},
		{msalText(tokenURL, stsError(700016, "unauthorized_client", "Application with identifier 'x' was not found in the directory 'Contoso'.")), ClassAppNotFound, 700016, "", "", false},
		{msalText(tokenURL, stsError(50020, "invalid_grant", "guest")), ClassWrongAccountType, 50020, "", "", false},
		{msalText(tokenURL, stsError(90072, "invalid_grant", "external")), ClassWrongAccountType, 90072, "", "", false},
		{msalText(tokenURL, stsError(65001, "invalid_grant", "The user or administrator has not consented to use the application.")), ClassConsentRequired, 65001, "", actionAdminAccount, false},
		{msalText(tokenURL, stsError(90094, "invalid_grant", "admin consent")), ClassConsentRequired, 90094, "", actionAdminAccount, false},
		{msalText(tokenURL, stsError(90095, "invalid_grant", "admin consent workflow")), ClassConsentRequired, 90095, "", actionAdminAccount, false},
		{msalText(tokenURL, stsError(50173, "invalid_grant", "revoked")), ClassRefreshRevoked, 50173, "", "Sign in again.", false},
		{msalText(tokenURL, stsError(70008, "invalid_grant", "expired")), ClassRefreshRevoked, 70008, "The saved sign-in has expired (AADSTS70008).", "Sign in again.", false},
		{msalText(tokenURL, stsError(700082, "invalid_grant", "inactive")), ClassRefreshRevoked, 700082, "", "Sign in again.", false},
		// the description alone (no error_codes) still yields the code
		{msalText(tokenURL, `{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies."}`), ClassDeviceCodeBlocked, 53003, "", "", true},
		// no JSON at all: regex on the text
		{errors.New("token request failed: AADSTS50076: Due to a configuration change ... Trace ID: abc"), ClassMFARequired, 50076, "", "", false},
		{context.Canceled, ClassCancelled, 0, "Sign-in was cancelled.", "Start the sign-in again when ready.", false},
		{fmt.Errorf("wrapped: %w", context.Canceled), ClassCancelled, 0, "", "", false},
		{context.DeadlineExceeded, ClassTimeout, 0, "Sign-in did not finish in time.", "", false},
		{errNotSignedIn, ClassNotSignedIn, 0, "Nobody is signed in yet.", "Sign in first.", false},
		{errors.New("no token found"), ClassRefreshRevoked, 0, "No saved sign-in can provide this token.", "Sign in again.", false},
		{&redirectError{OAuthError: "access_denied", Description: "the user cancelled"}, ClassDeclined, 0, "The sign-in was declined or cancelled in the browser.", "", false},
		{&httpStatusError{host: "login.microsoftonline.com", status: 503, body: "<html>"}, ClassUnavailable, 0, "Microsoft sign-in at login.microsoftonline.com is temporarily unavailable.", "Wait a minute, then try again.", false},
	}
	for i, tc := range cases {
		e := Classify(tc.err)
		if e.Class != tc.class || e.Code != tc.code || e.SwitchToBrowser() != tc.sw {
			t.Errorf("case %d (%v): got class %s code %d switch %v", i, tc.err, e.Class, e.Code, e.SwitchToBrowser())
		}
		if tc.message != "" && e.Message != tc.message {
			t.Errorf("case %d: message %q, want %q", i, e.Message, tc.message)
		}
		if tc.action != "" && e.Action != tc.action {
			t.Errorf("case %d: action %q, want %q", i, e.Action, tc.action)
		}
		if e.Message == "" || e.Action == "" {
			t.Errorf("case %d: empty message or action: %#v", i, e)
		}
	}
	if Classify(nil) != nil {
		t.Fatal("Classify(nil) != nil")
	}
	e := Classify(context.Canceled)
	if Classify(fmt.Errorf("again: %w", e)) != e {
		t.Fatal("Classify does not return an existing *Error")
	}
}

func TestClassifyUnknownIsSafe(t *testing.T) {
	err := msalText("https://login.microsoftonline.com/t/oauth2/v2.0/token?code=SECRETCODE&x=1",
		`{"error":"invalid_request","error_description":"AADSTS900144: The request body must contain the following parameter: 'grant_type'.\r\nTrace ID: x"}`)
	e := Classify(err)
	if e.Class != ClassUnknown || e.Code != 900144 {
		t.Fatalf("%#v", e)
	}
	if e.Message != "Sign-in failed: AADSTS900144: The request body must contain the following parameter: 'grant_type'." {
		t.Fatalf("message %q", e.Message)
	}
	// A non-JSON error naming a URL with a query: the query is dropped.
	e = Classify(errors.New("unable to resolve an endpoint: GET https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https://x/?code=SECRETCODE failed"))
	if strings.Contains(e.Error(), "SECRETCODE") || strings.Contains(e.Error(), "api-version") {
		t.Fatalf("query string leaked: %q", e.Error())
	}
	if !strings.HasPrefix(e.Message, "Sign-in failed: unable to resolve an endpoint: GET https://login.microsoftonline.com/common/discovery/instance failed") {
		t.Fatalf("message %q", e.Message)
	}
	e = Classify(msalText(tokenURL, `{"error":"unsupported_grant_type"}`))
	if e.Message != "Sign-in failed: unsupported_grant_type." {
		t.Fatalf("message %q", e.Message)
	}
}

func TestClassifyNetwork(t *testing.T) {
	// connection refused on a closed port
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = http.Get("https://" + addr + "/organizations/v2.0/.well-known/openid-configuration")
	e := Classify(fmt.Errorf("server response error:\n %w", err))
	if e.Class != ClassNetwork || e.Message != "Cannot reach "+addr+"." || !strings.Contains(e.Action, "proxy") {
		t.Fatalf("refused: %#v", e)
	}
	// DNS failure
	dnsErr := &net.DNSError{Err: "no such host", Name: "login.microsoftonline.com", IsNotFound: true}
	e = Classify(fmt.Errorf("x: %w", dnsErr))
	if e.Class != ClassNetwork || e.Message != "Cannot reach login.microsoftonline.com." {
		t.Fatalf("dns: %#v", e)
	}
	// untrusted TLS certificate (a TLS-inspecting proxy)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	_, err = http.Get(srv.URL + "/x?secret=1")
	e = Classify(err)
	host := strings.TrimPrefix(srv.URL, "https://")
	if e.Class != ClassNetwork || !strings.Contains(e.Message, "Cannot reach "+host+" securely") {
		t.Fatalf("tls: %#v", e)
	}
	if strings.Contains(e.Error(), "secret=1") {
		t.Fatal("query leaked")
	}
}

func TestErrorsDocListsEveryRow(t *testing.T) {
	b, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for code, r := range codeRules {
		row := regexp.MustCompile(`(?m)^\| ` + fmt.Sprint(code) + ` \| ` + regexp.QuoteMeta(string(r.Class)) + ` \| ` +
			regexp.QuoteMeta(r.Message) + ` \| ` + regexp.QuoteMeta(r.Action) + ` \|`)
		if !row.MatchString(doc) {
			t.Errorf("docs/errors.md lacks the row for AADSTS%d", code)
		}
	}
	for name, r := range oauthRules {
		if !strings.Contains(doc, "| `"+name+"` | "+string(r.Class)+" | "+r.Message+" | "+r.Action+" |") {
			t.Errorf("docs/errors.md lacks the row for %s", name)
		}
	}
	for _, r := range []rule{ruleNetwork, ruleTLS, ruleCancelled, ruleTimeout, ruleNotSignedIn, ruleNoToken, ruleUnavailable, ruleBrowserCA, ruleUnknown} {
		if !strings.Contains(doc, " | "+string(r.Class)+" | "+strings.ReplaceAll(r.Message, "%s", "<host>")+" | "+r.Action+" |") {
			t.Errorf("docs/errors.md lacks the row for %s %q", r.Class, r.Message)
		}
	}
}
