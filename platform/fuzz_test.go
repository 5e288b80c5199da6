package platform

import (
	"net/http"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzParseError(f *testing.F) {
	f.Add(409, []byte(`{"error":{"code":"tenant_already_mapped","message":"m","request_id":"r","organization_id":"org_7","organization_name":"Fabrikam"}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := ParseError("POST /v1/integrations", status, http.Header{"X-Request-Id": {"hdr"}}, body)
		if e == nil || e.Code == "" || e.RequestID == "" || e.Status != status {
			t.Fatalf("%+v", e)
		}
		if len(e.Message) > 2000+len("…") || strings.ContainsAny(e.Message, "\r\n") {
			t.Fatalf("message not bounded to one line: %q", e.Message)
		}
		if !strings.Contains(e.Error(), "POST /v1/integrations") {
			t.Fatal(e.Error())
		}
		_, _, _ = IsNotFound(e), IsTenantAlreadyMapped(e), IsConsentMissing(e)
	})
}

func FuzzDecodeObjects(f *testing.F) {
	f.Add([]byte(`{"id":"int_9","tenant_id":"t","organization_id":"org_42","status":"pending","created_at":"2026-11-26T09:00:00Z","first_data_at":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a Account
		_ = DecodeObject(body, &a)
		var app App
		_ = DecodeObject(body, &app)
		var p OrganizationPage
		_ = DecodeObject(body, &p)
		var in Integration
		_ = DecodeObject(body, &in)
		var list struct {
			Integrations []Integration `json:"integrations"`
		}
		_ = DecodeObject(body, &list)
	})
}
