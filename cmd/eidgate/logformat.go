package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Log formats (--log-format).
const (
	logFormatAuto = "auto" // terse lines on a terminal, JSON otherwise
	logFormatText = "text" // terse lines
	logFormatJSON = "json" // one JSON object a line, for log collectors
)

// newLogger logs at level to w in format; auto is terse lines when w is a
// terminal a person reads and JSON when it is a pipe or a file.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	if format == logFormatText || (format != logFormatJSON && isTerminal(w)) {
		return slog.New(&terseHandler{w: w, level: l, mu: &sync.Mutex{}})
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// terseHandler writes one short line a record for a person at a terminal:
// the time of day, the level when it is not info, the message and its
// attributes as key=value; a request is "GET /route 200 1.2ms" with its
// error code and department when it has them (the request id only at
// debug level, where it is wanted to follow a request).
type terseHandler struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	group string
	mu    *sync.Mutex
}

func (h *terseHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *terseHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		c.attrs = append(slices.Clip(c.attrs), a)
	}
	return &c
}

func (h *terseHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

func (h *terseHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("15:04:05"))
	if r.Level != slog.LevelInfo {
		b.WriteString(" " + r.Level.String())
	}
	attrs := make([]slog.Attr, 0, len(h.attrs)+r.NumAttrs())
	attrs = append(attrs, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		attrs = append(attrs, a)
		return true
	})
	if r.Message == "http request" {
		attrs = h.request(&b, attrs)
	} else {
		b.WriteString(" " + r.Message)
	}
	for _, a := range attrs {
		writeAttr(&b, a)
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// request writes a request's method, route, status and time and returns
// the attributes left to write.
func (h *terseHandler) request(b *strings.Builder, attrs []slog.Attr) []slog.Attr {
	val := map[string]string{}
	var rest []slog.Attr
	for _, a := range attrs {
		switch a.Key {
		case "method", "route", "status", "ms":
			val[a.Key] = a.Value.Resolve().String()
		case "request_id":
			if h.level < slog.LevelInfo {
				rest = append(rest, a)
			}
		default:
			rest = append(rest, a)
		}
	}
	ms := val["ms"]
	if f, err := strconv.ParseFloat(ms, 64); err == nil {
		ms = strconv.FormatFloat(f, 'f', 1, 64)
	}
	fmt.Fprintf(b, " %s %s %s %sms", val["method"], val["route"], val["status"], ms)
	return rest
}

func writeAttr(b *strings.Builder, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			g.Key = a.Key + "." + g.Key
			writeAttr(b, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	s := v.String()
	if v.Kind() == slog.KindTime {
		s = v.Time().Format(time.RFC3339)
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = strconv.Quote(s)
	}
	b.WriteString(" " + a.Key + "=" + s)
}
