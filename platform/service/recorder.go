package service

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// responseRecorder collects a handler's response for HandlerTransport.
type responseRecorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newResponseRecorder() *responseRecorder { return &responseRecorder{h: http.Header{}} }

func (r *responseRecorder) Header() http.Header { return r.h }

func (r *responseRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *responseRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *responseRecorder) result(req *http.Request) *http.Response {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return &http.Response{
		Status:        strconv.Itoa(r.status) + " " + http.StatusText(r.status),
		StatusCode:    r.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.h,
		Body:          io.NopCloser(bytes.NewReader(r.body.Bytes())),
		ContentLength: int64(r.body.Len()),
		Request:       req,
	}
}
