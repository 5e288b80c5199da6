package endpoints

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClouds(t *testing.T) {
	for _, name := range Clouds() {
		e, err := ForCloud(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !e.InstanceDiscovery || e.ClientID == "" {
			t.Errorf("%s: production endpoints need instance discovery and a client id", name)
		}
	}
	if _, err := ForCloud("mars"); err == nil || !strings.Contains(err.Error(), "global") {
		t.Errorf("unknown cloud error should list the names: %v", err)
	}
	g := Global()
	if g.GraphScope() != "https://graph.microsoft.com/.default" || g.ExchangeScope() != "https://outlook.office365.com/.default" {
		t.Errorf("scopes %q %q", g.GraphScope(), g.ExchangeScope())
	}
	if g.AuthorityFor("") != "https://login.microsoftonline.com/organizations" {
		t.Errorf("authority %q", g.AuthorityFor(""))
	}
	if CloudForAuthorityHost("login.microsoftonline.us") != CloudUSGov || CloudForAuthorityHost("example.com") != "" {
		t.Error("CloudForAuthorityHost")
	}
}

func TestResourceOverridesScope(t *testing.T) {
	e := Endpoints{Graph: "https://127.0.0.1:1/graph", GraphResource: "https://graph.microsoft.com"}
	if e.GraphScope() != "https://graph.microsoft.com/.default" {
		t.Errorf("scope %q", e.GraphScope())
	}
}

func TestLoadSaveAndBadFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ep.json")
	e := Global()
	e.Platform = "https://127.0.0.1:9/platform"
	if err := e.Save(p); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	got, err := Load(p)
	if err != nil || got.Platform != e.Platform {
		t.Fatalf("load: %v %+v", err, got)
	}
	for name, body := range map[string]string{
		"unknown field": `{"authority":"https://a","graph":"https://g","exchange":"https://x","platform":"https://p","bogus":1}`,
		"http url":      `{"authority":"http://a","graph":"https://g","exchange":"https://x","platform":"https://p"}`,
		"missing":       `{"authority":"https://a"}`,
		"bad pem":       `{"authority":"https://a","graph":"https://g","exchange":"https://x","platform":"https://p","ca_cert_pem":"nope"}`,
	} {
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "--endpoints") {
			t.Errorf("%s: want an error naming --endpoints, got %v", name, err)
		}
	}
}
