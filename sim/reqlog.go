package sim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/ui/text" // the project's one JSON sanitiser (a leaf package, not a client)
)

// RequestRecord is one line of the simulator's request log. Only the path is
// recorded: never the query string (it can hold codes) nor any body value.
// For an Exchange InvokeCommand the cmdlet's name and its parameter NAMES are
// recorded (never their values, which can be secrets); for a Graph $batch
// each sub-request's method, path and status.
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
	Tenant     string        `json:"tenant,omitempty"`
	Host       string        `json:"host,omitempty"` // the Microsoft host name, when it came through the proxy
	Cmdlet     string        `json:"cmdlet,omitempty"`
	Parameters []string      `json:"parameters,omitempty"` // names only, sorted
	Batch      []BatchRecord `json:"batch,omitempty"`
	// Anchor is an Exchange request's X-AnchorMailbox (the partner
	// simulator): a system mailbox anchor whole, a user anchor as "UPN:…".
	Anchor string `json:"anchor,omitempty"`
}

// BatchRecord is one sub-request of a Graph $batch (path without query).
type BatchRecord struct {
	ID     string `json:"id"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// simLogNote collects what a handler adds to its request's log line.
type simLogNote struct {
	mu     sync.Mutex
	cmdlet string
	params []string
	batch  []BatchRecord
}

type simLogNoteKey struct{}

func simWithLogNote(r *http.Request) (*http.Request, *simLogNote) {
	n := &simLogNote{}
	return r.WithContext(context.WithValue(r.Context(), simLogNoteKey{}, n)), n
}

func simNoteOf(r *http.Request) *simLogNote {
	n, _ := r.Context().Value(simLogNoteKey{}).(*simLogNote)
	return n
}

// simNoteCmdlet records an InvokeCommand's cmdlet and parameter names.
func simNoteCmdlet(r *http.Request, cmdlet string, params map[string]any) {
	n := simNoteOf(r)
	if n == nil {
		return
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, simClip(k, 64))
	}
	sort.Strings(names)
	n.mu.Lock()
	n.cmdlet, n.params = simClip(cmdlet, 80), names
	n.mu.Unlock()
}

// simNoteBatch records one $batch sub-request.
func simNoteBatch(r *http.Request, rec BatchRecord) {
	n := simNoteOf(r)
	if n == nil {
		return
	}
	if i := strings.IndexByte(rec.Path, '?'); i >= 0 {
		rec.Path = rec.Path[:i]
	}
	rec.ID, rec.Path = simClip(rec.ID, 40), simClip(rec.Path, 200)
	n.mu.Lock()
	n.batch = append(n.batch, rec)
	n.mu.Unlock()
}

func (n *simLogNote) fill(rec *RequestRecord) {
	n.mu.Lock()
	defer n.mu.Unlock()
	rec.Cmdlet, rec.Parameters, rec.Batch = n.cmdlet, n.params, n.batch
}

// Endpoint groups.
const (
	GroupIdentity = "identity"
	GroupGraph    = "graph"
	GroupExchange = "exchange"
	GroupPlatform = "platform"
	GroupARM      = "arm"    // Azure Resource Manager (management.azure.com)
	GroupManage   = "manage" // Office 365 Management APIs (manage.office.com)
	GroupProxy    = "proxy"  // the CONNECT proxy's own refusals
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
		// text.Marshal: C1 controls (U+0080–U+009F) in a path, cmdlet or
		// parameter name are written as \u escapes, never raw, like every
		// other file the project writes.
		b, err := text.Marshal(rec)
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
