package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"itdr-onboard/ui/text"
)

// runLog is the structured diagnostic log (--log-file). It records requests
// (method, host, path, status, request id, duration) and step events; it
// never records headers, query strings or bodies, so no token, code or
// secret can reach it.
type runLog struct {
	*slog.Logger
	f io.Closer
}

func openLog(path string) (*runLog, error) {
	if path == "" {
		return &runLog{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, usageError("--log-file %s: %v", path, err)
	}
	return &runLog{Logger: slog.New(slog.NewJSONHandler(text.JSONWriter(f), &slog.HandlerOptions{Level: slog.LevelDebug})), f: f}, nil
}

func (l *runLog) Close() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}

func (l *runLog) transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &logTransport{next: next, log: l}
}

type logTransport struct {
	next http.RoundTripper
	log  *runLog
}

func (t *logTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	attrs := []any{"method", r.Method, "host", r.URL.Host, "path", r.URL.Path, "ms", float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		t.log.Warn("http", append(attrs, "error", fmt.Sprintf("%T", err))...)
		return resp, err
	}
	rid := resp.Header.Get("request-id")
	if rid == "" {
		rid = resp.Header.Get("X-Request-Id")
	}
	t.log.Debug("http", append(attrs, "status", resp.StatusCode, "request_id", rid)...)
	return resp, nil
}
