package main

import (
	"io/fs"
	"runtime/debug"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func files(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if v, ok := m[p]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func TestNewServer(t *testing.T) {
	base := map[string]string{"CHAINCODE_SERVER_ADDRESS": "0.0.0.0:9999", "CHAINCODE_ID": "eidgate_1.0:abc"}
	s, err := newServer(env(base), files(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Address != "0.0.0.0:9999" {
		t.Fatalf("s.Address = %q, want \"0.0.0.0:9999\"; server: %+v", s.Address, s)
	}
	if s.CCID != "eidgate_1.0:abc" {
		t.Fatalf("s.CCID = %q, want \"eidgate_1.0:abc\"; server: %+v", s.CCID, s)
	}
	if !s.TLSProps.Disabled {
		t.Fatalf("s.TLSProps.Disabled is false; server: %+v", s)
	}
	if s.CC == nil {
		t.Fatalf("s.CC is nil; server: %+v", s)
	}

	tls := map[string]string{"CHAINCODE_TLS_DISABLED": "false", "CHAINCODE_TLS_KEY": "/k", "CHAINCODE_TLS_CERT": "/c", "CHAINCODE_CLIENT_CA_CERT": "/ca"}
	for k, v := range base {
		tls[k] = v
	}
	s, err = newServer(env(tls), files(map[string]string{"/k": "KEY", "/c": "CERT", "/ca": "CA"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.TLSProps.Disabled {
		t.Fatalf("s.TLSProps.Disabled is true; TLS: %+v", s.TLSProps)
	}
	if string(s.TLSProps.Key) != "KEY" {
		t.Fatalf("string(s.TLSProps.Key) != \"KEY\"; TLS: %+v", s.TLSProps)
	}
	if string(s.TLSProps.Cert) != "CERT" {
		t.Fatalf("string(s.TLSProps.Cert) != \"CERT\"; TLS: %+v", s.TLSProps)
	}
	if string(s.TLSProps.ClientCACerts) != "CA" {
		t.Fatalf("string(s.TLSProps.ClientCACerts) != \"CA\"; TLS: %+v", s.TLSProps)
	}
}

func TestNewServerReportsEveryProblem(t *testing.T) {
	cases := []struct {
		vars map[string]string
		want []string
	}{
		{map[string]string{}, []string{"CHAINCODE_SERVER_ADDRESS is not set", "CHAINCODE_ID is not set"}},
		{map[string]string{"CHAINCODE_SERVER_ADDRESS": "9999", "CHAINCODE_ID": "x"}, []string{"not host:port"}},
		{map[string]string{"CHAINCODE_SERVER_ADDRESS": ":9999", "CHAINCODE_ID": "x", "CHAINCODE_TLS_DISABLED": "maybe"}, []string{"CHAINCODE_TLS_DISABLED \"maybe\""}},
		{map[string]string{"CHAINCODE_SERVER_ADDRESS": ":9999", "CHAINCODE_ID": "x", "CHAINCODE_TLS_DISABLED": "false"},
			[]string{"CHAINCODE_TLS_KEY is not set", "CHAINCODE_TLS_CERT is not set"}},
		{map[string]string{"CHAINCODE_SERVER_ADDRESS": ":9999", "CHAINCODE_ID": "x", "CHAINCODE_TLS_DISABLED": "false",
			"CHAINCODE_TLS_KEY": "/missing", "CHAINCODE_TLS_CERT": "/c"}, []string{"CHAINCODE_TLS_KEY: open /missing"}},
	}
	for i, c := range cases {
		_, err := newServer(env(c.vars), files(map[string]string{"/c": "CERT"}))
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("case %d: %q lacks %q", i, err, w)
			}
		}
	}
}

func TestStartLineNamesThePackageAndBuild(t *testing.T) {
	s, err := newServer(env(map[string]string{"CHAINCODE_SERVER_ADDRESS": "0.0.0.0:9999",
		"CHAINCODE_ID": "eidgate_1.1:9f2c4e1d3b5a69788a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"}), files(nil))
	if err != nil {
		t.Fatal(err)
	}
	info := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	line := startLine(s, info)
	for _, want := range []string{"package eidgate_1.1:9f2c", "(label eidgate_1.1)", "build v1.4.0 0123456789ab+modified", "contract API 1.0.0", "0.0.0.0:9999"} {
		if !strings.Contains(line, want) {
			t.Errorf("start line %q lacks %q", line, want)
		}
	}
	Version = "1.5.0-rc1"
	defer func() { Version = "" }()
	if line := startLine(s, info); !strings.Contains(line, "build 1.5.0-rc1,") {
		t.Errorf("start line %q ignores the linked version", line)
	}
}
