package m365

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Issue 16 §4: a control character in the value that goes into the
// X-AnchorMailbox header is refused before any request, with a message that
// names the value (cleaned), the character and the header, and a remedy —
// instead of every Exchange call failing with net/http's bare "invalid
// header field value".
func TestExchangeRefusesAControlCharacterInTheAnchorMailbox(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	for _, upn := range []string{"adm\x1b]52;c;aGk=\x07in@contoso.onmicrosoft.com", "admin\u009b@contoso.onmicrosoft.com", "admin\r\nX-Evil: 1@contoso.onmicrosoft.com", "ad\x7fmin@contoso.onmicrosoft.com"} {
		x := NewExchange(srv.Client(), srv.URL, tenantID, upn, staticToken)
		_, err := x.OrganizationConfig(context.Background())
		var he *HeaderValueError
		if !errors.As(err, &he) {
			t.Fatalf("%q: err %v, want a HeaderValueError", upn, err)
		}
		msg := err.Error()
		for _, want := range []string{"X-AnchorMailbox", "the signed-in account's user name", "control character U+00", "contoso.onmicrosoft.com\""} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q: message %q lacks %q", upn, msg, want)
			}
		}
		if strings.ContainsAny(msg, "\x1b\x07\r\n\x7f\u009b") {
			t.Errorf("message carries the control character: %q", msg)
		}
		if !strings.Contains(he.Remedy, "user principal name") {
			t.Errorf("remedy %q", he.Remedy)
		}
		if _, err := x.SetUnifiedAuditLogIngestion(context.Background(), true); !errors.As(err, &he) {
			t.Errorf("write not refused: %v", err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d request(s) sent with a refused anchor", n)
	}
	if err := CheckHeaderValue("X-AnchorMailbox", "x", "admin@contoso.onmicrosoft.com", ""); err != nil {
		t.Errorf("plain UPN refused: %v", err)
	}
}
