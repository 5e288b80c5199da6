package auth

import (
	"errors"
	"strings"
	"testing"
)

// FuzzClassify feeds arbitrary identity-platform error text (MSAL's
// "http call(...) error: reply status code was N:\n{json}" form and worse)
// through the AADSTS parser: it must never panic, always classify, and
// never echo a query string it was given.
func FuzzClassify(f *testing.F) {
	seeds := []string{
		"http call(https://login.microsoftonline.com/t/oauth2/v2.0/token)(POST) error: reply status code was 400:\n" +
			`{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: x","error_codes":[53003],"trace_id":"t","correlation_id":"c"}`,
		`{"error":"expired_token","error_codes":[70019]}`,
		"AADSTS530035: BlockedBySecurityDefaults",
		`http call(https://h/t/oauth2/v2.0/devicecode?secret=abc)(POST) error: reply status code was 500:` + "\n{",
		`{"error_codes":["x"],"error":5}`,
		"",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		e := Classify(errors.New(text))
		if e == nil || e.Class == "" || e.Message == "" {
			t.Fatalf("unclassified: %+v", e)
		}
		if i := strings.Index(text, "?secret="); i >= 0 {
			secret := text[i+len("?secret="):]
			if j := strings.IndexAny(secret, ")&\n "); j >= 0 {
				secret = secret[:j]
			}
			if len(secret) >= 6 && strings.Contains(e.Error(), secret) {
				t.Fatalf("query value leaked into %q", e.Error())
			}
		}
	})
}
