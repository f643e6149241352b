package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runID(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"id", "check"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func decodeLines(t *testing.T, stdout string) []idCheckResult {
	t.Helper()
	var res []idCheckResult
	for _, line := range strings.Split(strings.TrimRight(stdout, "\n"), "\n") {
		var r idCheckResult
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		res = append(res, r)
	}
	return res
}

func TestIDCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"valid", []string{"cn-resident", "11010519491231002X"}, 0,
			`{"type":"cn-resident","valid":true,"normalized":"11010519491231002X","reason":""}`},
		{"valid folded", []string{"cn-resident", "１１０１０５-19491231-002x"}, 0,
			`{"type":"cn-resident","valid":true,"normalized":"11010519491231002X","reason":""}`},
		{"upgraded", []string{"cn-resident", "110105491231002"}, 0,
			`{"type":"cn-resident","valid":true,"normalized":"11010519491231002X","reason":""}`},
		{"invalid checksum masked", []string{"cn-resident", "110105194912310021"}, 1,
			`{"type":"cn-resident","valid":false,"normalized":"1101**********0021","reason":"checksum"}`},
		{"invalid date", []string{"cn-resident", "110105209912310029"}, 1,
			`{"type":"cn-resident","valid":false,"normalized":"1101**********0029","reason":"date"}`},
		{"passport flag", []string{"passport", "--country", "usa", "L898902C3"}, 0,
			`{"type":"passport","valid":true,"normalized":"USA:L898902C3","reason":""}`},
		{"passport prefix", []string{"passport", "USA:L898902C36"}, 0,
			`{"type":"passport","valid":true,"normalized":"USA:L898902C3","reason":""}`},
		{"passport without state", []string{"passport", "L898902C3"}, 1,
			`{"type":"passport","valid":false,"normalized":"L8*****C3","reason":"country"}`},
		{"permit issue count dropped", []string{"hkmo-permit", "H12345678(02)"}, 0,
			`{"type":"hkmo-permit","valid":true,"normalized":"H12345678","reason":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runID(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr)
			}
			if stdout != tc.stdout+"\n" {
				t.Fatalf("stdout %q, want %q", stdout, tc.stdout)
			}
			decodeLines(t, stdout)
			if tc.code == 1 {
				if stderr == "" {
					t.Fatal("no reason on stderr")
				}
				number := tc.args[len(tc.args)-1]
				if strings.Contains(stdout, number) || strings.Contains(stderr, number) {
					t.Fatalf("invalid number printed in full: %s %s", stdout, stderr)
				}
			}
		})
	}
}

func TestIDCheckUsageErrors(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"no arguments":         {},
		"missing number":       {"cn-resident"},
		"too many":             {"cn-resident", "1", "2"},
		"unknown type":         {"driving-licence", "11010519491231002X"},
		"swapped arguments":    {"11010519491231002X", "cn-resident"},
		"unknown flag":         {"--bogus", "cn-resident", "11010519491231002X"},
		"all with type":        {"--all", "cn-resident", "11010519491231002X"},
		"country not passport": {"--country", "USA", "cn-resident", "11010519491231002X"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runID(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %s)", code, stderr)
			}
			if stdout != "" || stderr == "" {
				t.Fatalf("stdout %q, stderr %q: want only a message on stderr", stdout, stderr)
			}
			if strings.Contains(stderr, "11010519491231002X") {
				t.Fatalf("usage error prints the number: %s", stderr)
			}
		})
	}
}

func TestIDCheckAll(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runID(t, "--all", "11010519491231002X")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	res := decodeLines(t, stdout)
	if len(res) != 8 {
		t.Fatalf("%d lines, want one per type", len(res))
	}
	valid := 0
	for _, r := range res {
		if r.Valid {
			valid++
			if r.Type != "cn-resident" {
				t.Fatalf("r.Type = %q, want \"cn-resident\"; valid line %+v", r.Type, r)
			}
			if r.Normalized != "11010519491231002X" {
				t.Fatalf("r.Normalized = %q, want \"11010519491231002X\"; valid line %+v", r.Normalized, r)
			}
			continue
		}
		if r.Reason == "" {
			t.Fatalf("r.Reason == \"\", want it different; invalid line %+v", r)
		}
		if strings.Contains(r.Normalized, "11010519491231002X") {
			t.Fatalf("strings.Contains(r.Normalized, \"11010519491231002X\") is true; invalid line %+v", r)
		}
	}
	if valid != 1 {
		t.Fatalf("%d valid lines, want 1", valid)
	}

	code, stdout, _ = runID(t, "--all", "--country", "GBR", "AB1234<<<1")
	if code != 0 || !strings.Contains(stdout, `{"type":"passport","valid":true,"normalized":"GBR:AB1234","reason":""}`) {
		t.Fatalf("passport through --all: exit %d\n%s", code, stdout)
	}

	// A passport number without its issuing state: --all says how to give
	// it, in the error's sentence (no type accepts the number) or as a note.
	code, stdout, stderr = runID(t, "--all", "L898902C3")
	if code != 1 || len(decodeLines(t, stdout)) != 8 ||
		stderr != "Error: no document type accepts the number; if it is a passport number, give its issuing state: --country USA, or write it as USA:NUMBER (no_document_type)\n" {
		t.Fatalf("passport number without its state: exit %d\n%s%s", code, stdout, stderr)
	}

	code, stdout, stderr = runID(t, "--all", "NOT-A-NUMBER-123")
	if code != 1 || len(decodeLines(t, stdout)) != 8 {
		t.Fatalf("exit %d, %q", code, stdout)
	}
	if strings.Contains(stdout+stderr, "NOTANUMBER123") {
		t.Fatal("invalid number printed in full")
	}
}
