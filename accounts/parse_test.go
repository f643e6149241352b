package accounts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/accounts"
)

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pw    string
		avoid []string
		ok    bool
	}{
		{"Correct horse", nil, true},
		{"correct horse battery", nil, true}, // lower case and a space
		{"密码很长很长很长abc", nil, true},           // letters of another script count as their own class
		{"Short1!", nil, false},
		{"abcdefghijk", nil, false},
		{"ABCDEFGHIJK", nil, false},
		{"12345678901", nil, false},
		{"!!!!!!!!!!!!", nil, false},
		{"密码很长很长很长很长很长", nil, false},
		{"tab\tinside pw1", nil, false},
		{"7K3M-Q9TW-ABCD-EFGH", []string{"7K3MQ9TWABCDEFGH"}, false},
		{"7k3mq9twabcdefgh", []string{"7K3M-Q9TW-ABCD-EFGH"}, false},
		{"li.wei.admin1", []string{"li.wei.admin1"}, false},
		{strings.Repeat("aB1", 86), nil, false}, // 258 bytes
		{"\xff\xfeabcdefgh1", nil, false},
	}
	for _, tt := range tests {
		why := accounts.CheckPassword(tt.pw, tt.avoid...)
		if (why == "") != tt.ok {
			t.Errorf("CheckPassword(%q) = %q, want ok=%v", tt.pw, why, tt.ok)
		}
	}
}

func TestParseActivationCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"7K3M-Q9TW-ABCD-EFGH", "7K3MQ9TWABCDEFGH"},
		{"7k3m q9tw abcd efgh", "7K3MQ9TWABCDEFGH"},
		{"OIL0-0000-0000-0000", "0110000000000000"}, // look-alikes
		{"7K3M-Q9TW-ABCD-EFG", ""},                  // too short
		{"7K3M-Q9TW-ABCD-EFGHJ", ""},                // too long
		{"UUUU-0000-0000-0000", ""},                 // U is not in the alphabet
		{"7K3M_Q9TW_ABCD_EFGH", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := accounts.ParseActivationCode(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseActivationCode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestHasherRoundTripAndRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := accounts.NewHasher(accounts.TestParams(), 1)
	enc, err := h.Hash(ctx, "Correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoding %q", enc)
	}
	if ok, rehash, err := h.Verify(ctx, "Correct horse", enc); !ok || rehash || err != nil {
		t.Fatalf("verify: %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, "correct horse", enc); ok {
		t.Fatal("a different password verified")
	}
	again, _ := h.Hash(ctx, "Correct horse")
	if again == enc {
		t.Fatal("two hashes share a salt")
	}
	stronger := accounts.NewHasher(accounts.Argon2Params{Time: 2, MemoryKiB: 128, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if ok, rehash, _ := stronger.Verify(ctx, "Correct horse", enc); !ok || !rehash {
		t.Fatalf("old parameters: ok=%v rehash=%v", ok, rehash)
	}
	// A hash stored with four lanes (the earlier default) still verifies
	// under one-lane parameters, and is due for a fresh hash.
	fourLanes, _ := accounts.NewHasher(accounts.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 4, SaltLen: 16, KeyLen: 32}, 1).Hash(ctx, "Correct horse")
	oneLane := accounts.NewHasher(accounts.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if ok, rehash, _ := oneLane.Verify(ctx, "Correct horse", fourLanes); !ok || !rehash {
		t.Fatalf("four-lane hash under one-lane parameters: ok=%v rehash=%v", ok, rehash)
	}
	if ok, _, _ := oneLane.Verify(ctx, "Wrong horse", fourLanes); ok {
		t.Fatal("a wrong password matched a four-lane hash")
	}
	// RFC 9106's second recommended option, with one lane, is the default.
	if p := accounts.RecommendedParams(); p.Time != 3 {
		t.Fatalf("p.Time = %v, want 3; recommended %+v", p.Time, p)
	} else if p.MemoryKiB != 65536 {
		t.Fatalf("p.MemoryKiB = %v, want 65536; recommended %+v", p.MemoryKiB, p)
	} else if p.Threads != 1 {
		t.Fatalf("p.Threads = %v, want 1 (a hash on one processor); recommended %+v", p.Threads, p)
	} else if p.SaltLen != 16 {
		t.Fatalf("p.SaltLen = %v, want 16; recommended %+v", p.SaltLen, p)
	} else if p.KeyLen != 32 {
		t.Fatalf("p.KeyLen = %v, want 32; recommended %+v", p.KeyLen, p)
	}
}

func TestParsePHCRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", // 4 GiB
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$c2Fs$aGFzaGhhc2hoYXNoaGFzaA", // salt too short
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",     // hash too short
		"$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, _, _, err := accounts.ParsePHC(s); err == nil {
			t.Errorf("ParsePHC(%q) accepted", s)
		}
	}
	if _, _, _, err := accounts.ParsePHC("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"); err != nil {
		t.Fatalf("a valid hash was refused: %v", err)
	}
}

func TestParseAPIKeyToken(t *testing.T) {
	t.Parallel()
	valid := "egk_abcdefgh_" + strings.Repeat("a2", 20)
	if id, secret, err := accounts.ParseAPIKeyToken(valid); err != nil || id != "abcdefgh" || len(secret) != 40 {
		t.Fatalf("valid: %q %q %v", id, secret, err)
	}
	for _, s := range []string{"", valid + "a", valid[:len(valid)-1], strings.Replace(valid, "egk_", "egx_", 1),
		strings.Replace(valid, "_a2", "-a2", 1), strings.ToUpper(valid), "egk_abcdefg1_" + strings.Repeat("a2", 20)} {
		if _, _, err := accounts.ParseAPIKeyToken(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

func FuzzParseActivationCode(f *testing.F) {
	for _, s := range []string{"7K3M-Q9TW-ABCD-EFGH", "oil0 0000 0000 0000", "", "-----", "ÄÖÜ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := accounts.ParseActivationCode(s)
		if err != nil {
			return
		}
		if len(c) != accounts.ActivationCodeLen {
			t.Fatalf("canonical %q has length %d", c, len(c))
		}
		again, err := accounts.ParseActivationCode(c)
		if err != nil || again != c {
			t.Fatalf("canonical form %q does not parse to itself: %q %v", c, again, err)
		}
	})
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := accounts.ParsePHC(s)
		if err != nil {
			return
		}
		if p.MemoryKiB > 1<<20 {
			t.Fatalf("p.MemoryKiB = %v, want <= 1<<20; accepted out-of-bounds parameters %+v from %q", p.MemoryKiB, p, s)
		}
		if p.Time == 0 {
			t.Fatalf("p.Time == 0, want it different; accepted out-of-bounds parameters %+v from %q", p, s)
		}
		if p.Threads == 0 {
			t.Fatalf("p.Threads == 0, want it different; accepted out-of-bounds parameters %+v from %q", p, s)
		}
		if len(salt) < 8 {
			t.Fatalf("len(salt) = %v, want >= 8; accepted out-of-bounds parameters %+v from %q", len(salt), p, s)
		}
		if len(key) < 16 {
			t.Fatalf("len(key) = %v, want >= 16; accepted out-of-bounds parameters %+v from %q", len(key), p, s)
		}
	})
}

func FuzzParseAPIKeyToken(f *testing.F) {
	f.Add("egk_abcdefgh_" + strings.Repeat("a2", 20))
	f.Add("egk__")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := accounts.ParseAPIKeyToken(s)
		if err != nil {
			return
		}
		if "egk_"+id+"_"+secret != s || len(id) != 8 || len(secret) != 40 {
			t.Fatalf("%q split into %q and %q", s, id, secret)
		}
	})
}

func FuzzCheckPassword(f *testing.F) {
	f.Add("Correct horse", "code")
	f.Fuzz(func(t *testing.T, pw, avoid string) {
		if accounts.CheckPassword(pw, avoid) == "" && (len(pw) < accounts.MinPasswordLen || len(pw) > accounts.MaxPasswordLen) {
			t.Fatalf("accepted %q", pw)
		}
	})
}
