package m365

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzParseGraphError(f *testing.F) {
	f.Add(503, []byte(`{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"code":"429","request-id":"r1"}}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := ParseGraphError("GET /me", status, http.Header{}, body)
		if e == nil || e.Service != ServiceGraph || e.Call != "GET /me" {
			t.Fatalf("%+v", e)
		}
		if len(e.Message) > maxErrorText+len("…") {
			t.Fatalf("message not bounded: %d", len(e.Message))
		}
		if s := e.Error(); !strings.Contains(s, "GET /me") {
			t.Fatalf("%q", s)
		}
		_ = AADSTSCode(e)
		_, _, _ = IsNotFound(e), IsConflict(e), IsDehydrated(e)
	})
}

func FuzzDecodeGraphCollection(f *testing.F) {
	f.Add([]byte(`{"value":[{"id":"r1","displayName":"Global Administrator","roleTemplateId":"62e90394-69f5-4237-9190-012177145e10"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/x?$skiptoken=a"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		roles, next, err := DecodeGraphCollection[DirectoryRole](body)
		if err != nil {
			if roles != nil || next != "" {
				t.Fatal("partial result with error")
			}
			return
		}
		// A decoded page re-encodes and decodes to the same items.
		b, _ := json.Marshal(map[string]any{"value": roles, "@odata.nextLink": next})
		again, next2, err := DecodeGraphCollection[DirectoryRole](b)
		if err != nil || len(again) != len(roles) || next2 != next {
			t.Fatalf("round trip: %v", err)
		}
		_, _, _ = DecodeGraphCollection[SKU](body)
		_, _, _ = DecodeGraphCollection[ServicePrincipal](body)
	})
}

func FuzzParseExchangeError(f *testing.F) {
	f.Add(404, []byte(`{"error":{"code":"NotFound","message":"Error executing cmdlet","details":[{"code":"Client","target":"","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|not found"}]}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := ParseExchangeError("InvokeCommand Get-OrganizationConfig", status, http.Header{}, body)
		if e == nil || e.Service != ServiceExchange {
			t.Fatalf("%+v", e)
		}
		if len(e.Message) > maxErrorText+len("…") {
			t.Fatalf("message not bounded: %d", len(e.Message))
		}
		if s := e.Error(); !strings.Contains(s, "InvokeCommand Get-OrganizationConfig") {
			t.Fatalf("%q", s)
		}
		_, _, _ = IsNotFound(e), IsConflict(e), IsDehydrated(e)
		_ = IsAlreadyCustomized(e)
	})
}

func FuzzDecodeExchangeResult(f *testing.F) {
	f.Add([]byte(`{"@odata.context":"x","value":[{"Name":"a","Role":"Audit Logs","Enabled":true}],"@odata.nextLink":"https://outlook.office365.com/adminapi/beta/t/InvokeCommand?$skiptoken=2","@adminapi.warnings":["w"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, _, err := DecodeExchangeResult(body)
		if err != nil {
			return
		}
		var rows []ManagementRoleAssignment
		_ = decodeItems(items, &rows)
		var one OrgConfig
		_ = decodeItems(items, &one)
	})
}

func FuzzDecodeBatchResponse(f *testing.F) {
	f.Add([]byte(`{"responses":[{"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":{"id":"u1"}},{"id":"2","status":429,"headers":{"Retry-After":"3"},"body":{"error":{"code":"TooManyRequests","message":"x"}}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := DecodeBatchResponse(body)
		if err != nil {
			return
		}
		for _, r := range rs {
			err := r.Err("GET /x")
			if (r.Status >= 200 && r.Status < 300) != (err == nil) {
				t.Fatalf("status %d err %v", r.Status, err)
			}
		}
	})
}
