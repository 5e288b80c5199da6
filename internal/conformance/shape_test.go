package conformance

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

type tDomain struct {
	Name      string `json:"name"`
	IsInitial bool   `json:"isInitial"`
}

type tThing struct {
	ID       string          `json:"id"`
	Count    int             `json:"count,omitempty"`
	Ratio    float64         `json:"ratio"`
	When     time.Time       `json:"when"`
	Maybe    *time.Time      `json:"maybe,omitempty"`
	Tags     []string        `json:"tags"`
	Domains  []tDomain       `json:"domains"`
	Raw      json.RawMessage `json:"raw"`
	Internal string          `json:"-"`
	Untagged string
	hidden   string //nolint:unused
}

func paths(fs []Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

func TestFieldsOfFollowsJSONTags(t *testing.T) {
	got := paths(FieldsOf(tThing{}))
	want := []string{
		"id (string)", "count (integer)", "ratio (number)", "when (date-time)", "maybe (date-time, nullable)",
		"tags (array)", "tags[] (string)", "domains (array)", "domains[].name (string)", "domains[].isInitial (boolean)",
		"raw (any, nullable)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("FieldsOf:\n got %q\nwant %q", got, want)
	}
}

func TestFieldsOfClientTypes(t *testing.T) {
	// Spot checks that the reflection sees the clients' real types.
	has := func(fs []Field, s string) bool { return slices.Contains(paths(fs), s) }
	if fs := FieldsOf(m365.Organization{}); !has(fs, "verifiedDomains[].isInitial (boolean)") {
		t.Errorf("Organization: %q", paths(fs))
	}
	if fs := FieldsOf(m365.ServicePrincipal{}); !has(fs, "appRoles[].allowedMemberTypes[] (string)") || has(fs, "RequestID (string)") {
		t.Errorf("ServicePrincipal: %q", paths(fs))
	}
	if fs := FieldsOf(platform.OrganizationPage{}); !has(fs, "pagination.next_page_token (string)") || !has(fs, "organizations[].created_at (date-time)") {
		t.Errorf("OrganizationPage: %q", paths(fs))
	}
	// platform.Error's Status and Call are set by the client, not decoded.
	fs := FieldsOf(platform.Error{})
	if got := paths(fs); !slices.Equal(got, []string{"code (string)", "message (string)", "request_id (string)", "organization_id (string)", "organization_name (string)"}) {
		t.Errorf("platform.Error: %q", got)
	}
	if fs := FieldsOf(platform.Integration{}); !has(fs, "first_data_at (date-time, nullable)") {
		t.Errorf("Integration: %q", paths(fs))
	}
}

func TestWithoutAndNullableRefuseUnknownPaths(t *testing.T) {
	fs := FieldsOf(tThing{})
	got, err := Without(fs, "domains", "raw")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if strings.HasPrefix(f.Path, "domains") || f.Path == "raw" {
			t.Errorf("Without kept %s", f)
		}
	}
	if _, err := Without(fs, "domain"); err == nil || !strings.Contains(err.Error(), `"domain"`) {
		t.Errorf("Without of an unknown path: %v", err)
	}
	n, err := WithNullable(fs, "id")
	if err != nil || !n[0].Nullable || fs[0].Nullable {
		t.Errorf("WithNullable: %v %v (original changed: %v)", n[0], err, fs[0].Nullable)
	}
	if _, err := WithNullable(fs, "nope"); err == nil {
		t.Error("WithNullable of an unknown path succeeded")
	}
}

const goodThing = `{"id":"a","count":3,"ratio":0.5,"when":"2026-11-25T10:00:00Z","maybe":null,
 "tags":["x","y"],"domains":[{"name":"c.onmicrosoft.com","isInitial":true},{"name":"c.com","isInitial":false}],
 "raw":{"anything":1},"extra":"ignored"}`

func TestCheckAcceptsConformingBody(t *testing.T) {
	if p := Check([]byte(goodThing), FieldsOf(tThing{})); len(p) != 0 {
		t.Fatalf("problems: %q", p)
	}
}

func TestCheckReportsEachProblem(t *testing.T) {
	fs := FieldsOf(tThing{})
	cases := []struct{ body, want string }{
		{`{"id":1}`, "id: got number, want string"},
		{`{"count":1.5}`, "count: 1.5 is not an integer"},
		{`{"when":"yesterday"}`, `when: "yesterday" is not an RFC 3339 date-time`},
		{`{"id":null}`, "id: null (want string)"},
		{`{"tags":[]}`, "tags: array is empty, so tags[] cannot be verified"},
		{`{"tags":["a",2]}`, "tags[1]: got number, want string"},
		{`{"domains":[{"name":"a","isInitial":true},{"nam":"b","isInitial":"yes"}]}`, "domains[1].name: missing (want string)"},
		{`{"domains":[{"name":"a","isInitial":true},{"name":"b","isInitial":"yes"}]}`, "domains[1].isInitial: got string, want boolean"},
		{`{"domains":{}}`, "domains: got object, want array"},
		{`{}`, "ratio: missing (want number)"},
		{`not json`, "body is not JSON"},
	}
	for _, c := range cases {
		var m map[string]any
		body := c.body
		if json.Unmarshal([]byte(body), &m) == nil {
			// Start from the good body and overlay the case's keys.
			var base map[string]any
			_ = json.Unmarshal([]byte(goodThing), &base)
			if len(m) == 0 {
				base = map[string]any{}
			}
			for k, v := range m {
				base[k] = v
			}
			b, _ := json.Marshal(base)
			body = string(b)
		}
		p := Check([]byte(body), fs)
		found := false
		for _, s := range p {
			if strings.HasPrefix(s, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want a problem %q, got %q", c.body, c.want, p)
		}
	}
}

func TestMutateRenamesAndRetypes(t *testing.T) {
	fs := FieldsOf(tThing{})
	for _, f := range fs {
		if f.Kind == Any {
			continue
		}
		if !strings.HasSuffix(f.Path, "[]") {
			b, n, err := Mutate([]byte(goodThing), f.Path, "renamed_"+f.Kind.short(), "")
			if err != nil || n == 0 {
				t.Fatalf("rename %s: %d %v", f.Path, n, err)
			}
			if len(Check(b, fs)) == 0 {
				t.Errorf("renaming %s went unnoticed: %s", f.Path, b)
			}
		}
		b, n, err := Mutate([]byte(goodThing), f.Path, "", f.Kind)
		if err != nil || n == 0 {
			t.Fatalf("retype %s: %d %v", f.Path, n, err)
		}
		if len(Check(b, fs)) == 0 {
			t.Errorf("re-typing %s went unnoticed: %s", f.Path, b)
		}
	}
}

func (k Kind) short() string { return strings.ReplaceAll(string(k), "-", "") }

func TestCheckReportsMissingParentsAndDottedKeys(t *testing.T) {
	fs := []Field{{Path: `@odata\.nextLink`, Kind: String}, {Path: "a.b.c", Kind: String}, {Path: "list[].x", Kind: Bool}}
	p := Check([]byte(`{"@odata.nextLink":"https://x/next","a":{},"list":{"x":true}}`), fs)
	want := []string{"a.b.c: missing (a.b is missing)", "list[].x: missing (list is object, not an array)"}
	if !slices.Equal(p, want) {
		t.Fatalf("problems %q, want %q", p, want)
	}
	p = Check([]byte(`{"a":{"b":{"c":"ok"}},"list":[{"x":true}]}`), fs)
	if !slices.Equal(p, []string{`@odata\.nextLink: missing (want string)`}) {
		t.Fatalf("problems %q", p)
	}
}
