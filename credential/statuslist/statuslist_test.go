package statuslist_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/credential/statuslist"
	"github.com/eidgate/eidgate/routing"
)

// The specification's own example decodes to an all-zero list of the
// minimum size.
func TestSpecExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/spec_example3_encodedlist.txt")
	if err != nil {
		t.Fatal(err)
	}
	l, err := statuslist.Decode(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != statuslist.MinSize {
		t.Fatalf("size %d", l.Size())
	}
	for i := 0; i < l.Size(); i += 977 {
		if v, _ := l.Get(i); v {
			t.Fatalf("bit %d set", i)
		}
	}
}

func TestRoundTripAndBitOrder(t *testing.T) {
	t.Parallel()
	l, err := statuslist.New(statuslist.MinSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 7, 8, 94567, statuslist.MinSize - 1} {
		if err := l.Set(i, true); err != nil {
			t.Fatal(err)
		}
	}
	raw := l.Bytes()
	// Index 0 is the left-most bit of the first byte; index 7 its right-most.
	if raw[0] != 0x81 || raw[1] != 0x80 || raw[len(raw)-1] != 0x01 {
		t.Fatalf("bit layout %x %x … %x", raw[0], raw[1], raw[len(raw)-1])
	}
	enc := l.Encode()
	if !strings.HasPrefix(enc, "u") {
		t.Fatalf("no multibase prefix: %s", enc[:8])
	}
	back, err := statuslist.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		i    int
		want bool
	}{{0, true}, {1, false}, {94567, true}, {94568, false}, {statuslist.MinSize - 1, true}} {
		if got, _ := back.Get(c.i); got != c.want {
			t.Errorf("bit %d = %v", c.i, got)
		}
	}
	if err := back.Set(94567, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get(94567); v {
		t.Fatal("cleared bit still set")
	}
	if _, err := back.Get(statuslist.MinSize); routing.CodeOf(err) != statuslist.CodeRange {
		t.Fatalf("out of range: %v", err)
	}
}

func gz(b []byte) string {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, code string }{
		"no multibase prefix": {gz(make([]byte, 16384))[1:], statuslist.CodeMalformed},
		"base58 prefix":       {"z" + gz(make([]byte, 16384))[1:], statuslist.CodeMalformed},
		"padded base64":       {gz(make([]byte, 16384)) + "==", statuslist.CodeMalformed},
		"not gzip":            {"u" + base64.RawURLEncoding.EncodeToString([]byte("plain")), statuslist.CodeMalformed},
		"too short":           {gz(make([]byte, 1024)), statuslist.CodeLength},
		"gzip bomb":           {gz(make([]byte, statuslist.MaxSize/8+1)), statuslist.CodeMalformed},
		"empty":               {"", statuslist.CodeMalformed},
	}
	for name, c := range cases {
		if _, err := statuslist.Decode(c.in); routing.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	if _, err := statuslist.New(1000); routing.CodeOf(err) != statuslist.CodeLength {
		t.Errorf("small list: %v", err)
	}
}

// FuzzDecode: any encodedList decodes or is refused with a code, never
// panics, and never yields a list outside the size bounds.
func FuzzDecode(f *testing.F) {
	l, _ := statuslist.New(statuslist.MinSize)
	_ = l.Set(5, true)
	f.Add(l.Encode())
	f.Add("uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA")
	f.Add("u")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := statuslist.Decode(s)
		if err != nil {
			if c := routing.CodeOf(err); c != statuslist.CodeMalformed && c != statuslist.CodeLength {
				t.Fatalf("code %q", c)
			}
			return
		}
		if l.Size() < statuslist.MinSize || l.Size() > statuslist.MaxSize {
			t.Fatalf("size %d", l.Size())
		}
	})
}
