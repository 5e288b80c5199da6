package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestRedirectListenerHandler(t *testing.T) {
	f := &browserFlow{port: 8400, state: "S1", result: make(chan redirectResult, 1), done: make(chan struct{})}
	do := func(method, target, host, body string) int {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r = httptest.NewRequest(method, target, nil)
		}
		r.Host = host
		w := httptest.NewRecorder()
		f.ServeHTTP(w, r)
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: missing no-store/no-referrer headers", method, target)
		}
		if strings.Contains(w.Body.String(), "CODE1") {
			t.Errorf("%s %s: page repeats the code", method, target)
		}
		return w.Code
	}
	if c := do("GET", "/favicon.ico", "localhost:8400", ""); c != 404 {
		t.Errorf("favicon: %d", c)
	}
	if c := do("GET", "/?code=CODE1&state=S1", "evil.example:8400", ""); c != 403 {
		t.Errorf("foreign Host header: %d", c)
	}
	if c := do("GET", "/", "localhost:8400", ""); c != 400 {
		t.Errorf("no params: %d", c)
	}
	if c := do("GET", "/?code=CODE1&state=OTHER", "localhost:8400", ""); c != 400 {
		t.Errorf("wrong state: %d", c)
	}
	if c := do("PUT", "/?code=CODE1&state=S1", "localhost:8400", ""); c != 405 {
		t.Errorf("PUT: %d", c)
	}
	select {
	case <-f.result:
		t.Fatal("a rejected request delivered a result")
	default:
	}
	// form_post works too
	form := url.Values{"code": {"CODE1"}, "state": {"S1"}}.Encode()
	if c := do("POST", "/", "127.0.0.1:8400", form); c != 200 {
		t.Errorf("form post: %d", c)
	}
	if r := <-f.result; r.code != "CODE1" || r.err != nil {
		t.Fatalf("result %+v", r)
	}
	if c := do("GET", "/?code=CODE1&state=S1", "[::1]:8400", ""); c != 409 {
		t.Errorf("second delivery: %d", c)
	}
}
