package contract_test

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// sameEvent reports the first difference between two events, or "".
func sameEvent(got, want contract.Event) string {
	switch {
	case got.ID != want.ID:
		return "id " + got.ID + " != " + want.ID
	case got.Source != want.Source:
		return "source " + got.Source + " != " + want.Source
	case got.Type != want.Type:
		return "type " + got.Type + " != " + want.Type
	case got.Subject != want.Subject:
		return "subject " + got.Subject + " != " + want.Subject
	case !got.Time.Equal(want.Time):
		return "time " + got.Time.String() + " != " + want.Time.String()
	case got.DataContentType != want.DataContentType:
		return "datacontenttype " + got.DataContentType + " != " + want.DataContentType
	case !bytes.Equal(got.Data, want.Data):
		return "data " + string(got.Data) + " != " + string(want.Data)
	case got.TraceParent != want.TraceParent:
		return "traceparent " + got.TraceParent + " != " + want.TraceParent
	}
	return ""
}

func TestHeaderRoundTrip(t *testing.T) {
	full := MustNew(t, "/services/orders", "orders.order_confirmed.v1", "order-1", map[string]int{"total": 3})
	full.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	bare := contract.Event{
		ID:     "e-1",
		Source: "/services/catalog",
		Type:   "catalog.product_updated.v2",
		Time:   time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
	}

	offset := bare
	offset.Time = time.Date(2025, 6, 1, 14, 0, 0, 123456789, time.FixedZone("CEST", 2*60*60))

	tests := []struct {
		name string
		e    contract.Event
	}{
		{"all attributes", full},
		{"only required attributes", bare},
		{"time with offset", offset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.e.Header()
			got, err := contract.FromMessage(h, tt.e.Data)
			if err != nil {
				t.Fatalf("FromMessage(%v): %v", h, err)
			}
			if d := sameEvent(got, tt.e); d != "" {
				t.Errorf("round trip changed the event: %s", d)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("time location = %v, want UTC", got.Time.Location())
			}
		})
	}
}

func TestHeader(t *testing.T) {
	e := contract.Event{
		ID:              "e-1",
		Source:          "/services/orders",
		Type:            "orders.order_confirmed.v1",
		Subject:         "order-1",
		Time:            time.Date(2025, 6, 1, 12, 0, 0, 500, time.UTC),
		DataContentType: "application/json",
		TraceParent:     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	want := map[string][]string{
		"ce-specversion": {"1.0"},
		"ce-id":          {"e-1"},
		"ce-source":      {"/services/orders"},
		"ce-type":        {"orders.order_confirmed.v1"},
		"ce-subject":     {"order-1"},
		"ce-time":        {"2025-06-01T12:00:00.0000005Z"},
		"content-type":   {"application/json"},
		"traceparent":    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	h := e.Header()
	if !maps.EqualFunc(h, want, slices.Equal) {
		t.Errorf("Header() = %v, want %v", h, want)
	}

	e.Subject, e.DataContentType, e.TraceParent = "", "", ""
	h = e.Header()
	for _, k := range []string{"ce-subject", "content-type", "traceparent"} {
		if _, ok := h[k]; ok {
			t.Errorf("Header() has %q for an empty attribute", k)
		}
	}

	// Appending to one value must not overwrite another.
	h["ce-id"] = append(h["ce-id"], "extra")
	if got := h["ce-source"][0]; got != "/services/orders" {
		t.Errorf("append to ce-id changed ce-source to %q", got)
	}
}

func TestFromMessageCanonicalHeaderNames(t *testing.T) {
	e := MustNew(t, "/services/orders", "orders.order_confirmed.v1", "order-1", 1)
	canonical := map[string][]string{
		"Ce-Specversion": {"1.0"},
		"Ce-Id":          {e.ID},
		"Ce-Source":      {e.Source},
		"Ce-Type":        {e.Type},
		"Ce-Subject":     {e.Subject},
		"Ce-Time":        e.Header()["ce-time"],
		"Content-Type":   {e.DataContentType},
	}
	got, err := contract.FromMessage(canonical, e.Data)
	if err != nil {
		t.Fatalf("FromMessage: %v", err)
	}
	if d := sameEvent(got, e); d != "" {
		t.Errorf("FromMessage changed the event: %s", d)
	}
}

func TestFromMessageMalformed(t *testing.T) {
	valid := func() map[string][]string {
		return map[string][]string{
			"ce-specversion": {"1.0"},
			"ce-id":          {"e-1"},
			"ce-source":      {"/services/orders"},
			"ce-type":        {"orders.order_confirmed.v1"},
			"ce-time":        {"2025-06-01T12:00:00Z"},
			"content-type":   {"application/json"},
		}
	}
	if _, err := contract.FromMessage(valid(), []byte(`{}`)); err != nil {
		t.Fatalf("FromMessage(valid): %v", err)
	}
	tests := []struct {
		name    string
		modify  func(h map[string][]string)
		wantMsg string
	}{
		{"missing ce-id", func(h map[string][]string) { delete(h, "ce-id") }, `"ce-id" is missing`},
		{"empty ce-id", func(h map[string][]string) { h["ce-id"] = []string{""} }, `"ce-id" is missing`},
		{"no ce-id values", func(h map[string][]string) { h["ce-id"] = nil }, `"ce-id" is missing`},
		{"two ce-id values", func(h map[string][]string) { h["ce-id"] = []string{"a", "b"} }, `"ce-id" has 2 values`},
		{"missing ce-source", func(h map[string][]string) { delete(h, "ce-source") }, `"ce-source" is missing`},
		{"missing ce-type", func(h map[string][]string) { delete(h, "ce-type") }, `"ce-type" is missing`},
		{"bad type", func(h map[string][]string) { h["ce-type"] = []string{"OrderConfirmed"} }, `attribute "type"`},
		{"type without version", func(h map[string][]string) { h["ce-type"] = []string{"orders.order_confirmed"} }, `attribute "type"`},
		{"missing ce-time", func(h map[string][]string) { delete(h, "ce-time") }, `"ce-time" is missing`},
		{"bad time", func(h map[string][]string) { h["ce-time"] = []string{"yesterday"} }, `"ce-time": "yesterday" is not an RFC 3339 time`},
		{"time without zone", func(h map[string][]string) { h["ce-time"] = []string{"2025-06-01T12:00:00"} }, `"ce-time"`},
		{"time before year 0 in UTC", func(h map[string][]string) { h["ce-time"] = []string{"0000-01-01T00:00:00+01:00"} }, `attribute "time": year -1`},
		{"zero time", func(h map[string][]string) { h["ce-time"] = []string{"0001-01-01T00:00:00Z"} }, `attribute "time"`},
		{"missing specversion", func(h map[string][]string) { delete(h, "ce-specversion") }, `"ce-specversion" is missing`},
		{"wrong specversion", func(h map[string][]string) { h["ce-specversion"] = []string{"0.3"} }, `unsupported specversion "0.3"`},
		{"newline in subject", func(h map[string][]string) { h["ce-subject"] = []string{"a\nb"} }, `attribute "subject"`},
		{"two traceparents", func(h map[string][]string) { h["traceparent"] = []string{"a", "b"} }, `"traceparent" has 2 values`},
		{"no headers", func(h map[string][]string) { clear(h) }, `"ce-specversion" is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := valid()
			tt.modify(h)
			_, err := contract.FromMessage(h, []byte(`{}`))
			if err == nil {
				t.Fatal("FromMessage succeeded, want error")
			}
			if !errors.Is(err, contract.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}

	if _, err := contract.FromMessage(nil, nil); !errors.Is(err, contract.ErrMalformed) {
		t.Errorf("FromMessage(nil, nil) = %v, want ErrMalformed", err)
	}
}

func BenchmarkHeaderFromMessage(b *testing.B) {
	e := MustNew(b, "/services/orders", "orders.order_confirmed.v1", "0190f5d2-6a8b-7c3d-9e4f-a1b2c3d4e5f6",
		map[string]any{"order_id": "0190f5d2-6a8b-7c3d-9e4f-a1b2c3d4e5f6", "total_cents": 12345})
	e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contract.FromMessage(e.Header(), e.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzFromMessage(f *testing.F) {
	e := MustNew(f, "/services/orders", "orders.order_confirmed.v1", "order-1", map[string]int{"total": 3})
	h := e.Header()
	f.Add(uint8(0xff), "1.0", e.ID, e.Source, e.Type, e.Subject, h["ce-time"][0], e.DataContentType, "00-ab-cd-01", e.Data)
	f.Add(uint8(0x1f), "1.0", "x", "/s", "a.b.v1", "", "2025-06-01T12:00:00+02:00", "", "", []byte(nil))
	f.Add(uint8(0xff), "1.0", "x", "/s", "a.b.v0", "s\n", "0000-01-01T00:00:00+01:00", "text/plain", "\x00", []byte("{"))
	f.Add(uint8(0x00), "", "", "", "", "", "", "", "", []byte{})

	keys := []string{"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-subject", "ce-time", "content-type", "traceparent"}
	f.Fuzz(func(t *testing.T, present uint8, specversion, id, source, typ, subject, ts, contentType, traceparent string, data []byte) {
		values := []string{specversion, id, source, typ, subject, ts, contentType, traceparent}
		header := make(map[string][]string)
		for i, k := range keys {
			if present&(1<<i) != 0 {
				header[k] = []string{values[i]}
			}
		}
		got, err := contract.FromMessage(header, data)
		if err != nil {
			if !errors.Is(err, contract.ErrMalformed) {
				t.Fatalf("FromMessage error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("FromMessage returned an invalid event: %v", err)
		}
		again, err := contract.FromMessage(got.Header(), got.Data)
		if err != nil {
			t.Fatalf("FromMessage(Header()) of accepted event %+v: %v", got, err)
		}
		if d := sameEvent(again, got); d != "" {
			t.Fatalf("round trip changed the event: %s", d)
		}
	})
}
