package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// RequestRecord is one line of the simulator's request log. Only the path is
// recorded: never the query string (it can hold codes) nor any body.
type RequestRecord struct {
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	LatencyMS float64   `json:"latency_ms"`
	Group     string    `json:"group"`
	Fault     string    `json:"fault"`
	// Tenant is the tenant a request acted on, where the simulator knows it
	// (the partner simulator: authority or token tenant); "" otherwise.
	Tenant string `json:"tenant,omitempty"`
}

// Endpoint groups.
const (
	GroupIdentity = "identity"
	GroupGraph    = "graph"
	GroupExchange = "exchange"
	GroupPlatform = "platform"
)

// simReqLog keeps the in-memory log and writes JSON lines to an io.Writer.
type simReqLog struct {
	mu      sync.Mutex
	out     io.Writer
	records []RequestRecord
}

// simReqLogMax bounds the in-memory log (long benchmarks); the oldest half
// is dropped when it is full. The io.Writer log is not bounded.
const simReqLogMax = 200000

func (l *simReqLog) add(rec RequestRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.records) >= simReqLogMax {
		l.records = append(l.records[:0], l.records[len(l.records)/2:]...)
	}
	l.records = append(l.records, rec)
	if l.out != nil {
		b, err := json.Marshal(rec)
		if err == nil {
			_, _ = l.out.Write(append(b, '\n'))
		}
	}
}

func (l *simReqLog) snapshot() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RequestRecord(nil), l.records...)
}

// simStatusWriter records the status code and supports Flush and Hijack.
type simStatusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *simStatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *simStatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *simStatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *simStatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("sim: response writer cannot hijack")
	}
	w.hijacked = true
	return h.Hijack()
}

func (w *simStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
