package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// grBatchMax is Graph's JSON batching limit.
const grBatchMax = 20

type grBatchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

type grBatchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// grRecorder is a minimal in-memory ResponseWriter for batched sub-requests.
type grRecorder struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (r *grRecorder) Header() http.Header { return r.h }
func (r *grRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *grRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.buf.Write(b)
}

// batch serves POST /v1.0/$batch: each request is dispatched, in order, to
// the same handler with the outer request's credentials.
func (c *grCtx) batch() {
	var body struct {
		Requests []grBatchRequest `json:"requests"`
	}
	if !c.decodeBody(&body) {
		return
	}
	if len(body.Requests) == 0 {
		c.err(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: the requests collection is empty.")
		return
	}
	if len(body.Requests) > grBatchMax {
		c.err(http.StatusBadRequest, "BadRequest", "Number of requests in the batch exceeds the limit of 20.")
		return
	}
	seen := map[string]bool{}
	for _, rq := range body.Requests {
		if rq.ID == "" || seen[rq.ID] {
			c.err(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: every request needs a unique id.")
			return
		}
		seen[rq.ID] = true
		if rq.Method == "" || rq.URL == "" {
			c.err(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: request '"+rq.ID+"' needs a method and a url.")
			return
		}
		for _, d := range rq.DependsOn {
			if !seen[d] || d == rq.ID {
				c.err(http.StatusBadRequest, "BadRequest", "Invalid dependsOn in request '"+rq.ID+"': '"+d+"' must name an earlier request.")
				return
			}
		}
	}
	status := map[string]int{}
	out := make([]grBatchResponse, 0, len(body.Requests))
	for _, rq := range body.Requests {
		failedDep := false
		for _, d := range rq.DependsOn {
			if status[d] >= 400 {
				failedDep = true
			}
		}
		var resp grBatchResponse
		if failedDep {
			resp = grBatchResponse{ID: rq.ID, Status: http.StatusFailedDependency, Headers: map[string]string{"Content-Type": "application/json"},
				Body: json.RawMessage(`{"error":{"code":"FailedDependency","message":"A dependent request failed."}}`)}
		} else {
			resp = c.batchOne(rq)
		}
		status[rq.ID] = resp.Status
		out = append(out, resp)
	}
	c.writeJSON(http.StatusOK, map[string]any{"responses": out})
}

func (c *grCtx) batchOne(rq grBatchRequest) grBatchResponse {
	u := strings.TrimSpace(rq.URL)
	// Relative to /v1.0; absolute URLs and a leading /v1.0 are tolerated.
	if i := strings.Index(u, "/v1.0/"); i >= 0 && (strings.HasPrefix(u, "http") || i == 0) {
		u = u[i+len("/v1.0"):]
	}
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	if strings.HasPrefix(u, "/$batch") {
		return grBatchResponse{ID: rq.ID, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: json.RawMessage(`{"error":{"code":"BadRequest","message":"Nested batch requests are not supported."}}`)}
	}
	var rdr io.Reader = http.NoBody
	if len(rq.Body) > 0 && string(rq.Body) != "null" {
		rdr = bytes.NewReader(rq.Body)
	}
	ctx := withGraphBase(c.r.Context(), c.base)
	sub, err := http.NewRequestWithContext(ctx, strings.ToUpper(rq.Method), "/v1.0"+u, rdr)
	if err != nil {
		return grBatchResponse{ID: rq.ID, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: json.RawMessage(`{"error":{"code":"BadRequest","message":"Invalid request URL."}}`)}
	}
	sub.RequestURI = sub.URL.RequestURI()
	sub.Host = c.r.Host
	sub.Header.Set("Authorization", c.r.Header.Get("Authorization"))
	for k, v := range rq.Headers {
		if !strings.EqualFold(k, "Authorization") {
			sub.Header.Set(k, v)
		}
	}
	rec := &grRecorder{h: http.Header{}}
	c.st.serveGraph(rec, sub)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	simNoteBatch(c.r, BatchRecord{ID: rq.ID, Method: strings.ToUpper(rq.Method), Path: "/v1.0" + u, Status: rec.code})
	resp := grBatchResponse{ID: rq.ID, Status: rec.code, Headers: map[string]string{}}
	for k := range rec.h {
		resp.Headers[k] = rec.h.Get(k)
	}
	if b := bytes.TrimSpace(rec.buf.Bytes()); len(b) > 0 {
		if json.Valid(b) {
			resp.Body = json.RawMessage(b)
		} else {
			q, _ := json.Marshal(string(b))
			resp.Body = q
		}
	}
	return resp
}

// stFlush copies a buffered response to the real writer (headers are shared).
// lockForResponse buffers the response to w, locks the state and moves its
// clock on. The returned func releases the lock and only then writes the
// buffered response, so a slow client never holds the state.
func (st *State) lockForResponse(w http.ResponseWriter) (*grRecorder, func()) {
	buf := &grRecorder{h: w.Header()}
	st.mu.Lock()
	st.tickLocked()
	return buf, func() {
		st.mu.Unlock()
		stFlush(w, buf)
	}
}

func stFlush(w http.ResponseWriter, rec *grRecorder) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	w.WriteHeader(rec.code)
	if rec.buf.Len() > 0 {
		_, _ = w.Write(rec.buf.Bytes())
	}
}
