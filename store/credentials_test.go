package store_test

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// Indexes are never handed out twice: a drawn index that is taken is drawn
// again, and a list that is three quarters full makes way for a new one.
func TestAllocateStatus(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		t.Parallel()
		db := d.Open(t)
		ctx := ctxT(t)
		lists := 0
		newList := func() string { lists++; return fmt.Sprintf("r%d", lists) }
		// Draws walk 0,0,1,1,2,2,…: every second draw collides.
		draws := 0
		pick := func(int) int { draws++; return (draws - 1) / 2 }
		seen := map[string]bool{}
		for i := 0; i < 14; i++ {
			ref, err := db.AllocateStatus(ctx, "edu", "revocation", 16, newList, pick)
			if err != nil {
				t.Fatal(err)
			}
			k := fmt.Sprintf("%s/%d", ref.ListID, ref.Index)
			if seen[k] {
				t.Fatalf("index %s handed out twice", k)
			}
			seen[k] = true
			if i < 12 && ref.ListID != "r1" || i >= 12 && ref.ListID != "r2" {
				t.Fatalf("allocation %d went to %s", i, ref.ListID)
			}
			if ref.Purpose != "revocation" {
				t.Fatalf("purpose %s", ref.Purpose)
			}
		}
		// Another purpose and another issuer have lists of their own.
		s, err := db.AllocateStatus(ctx, "edu", "suspension", 16, func() string { return "s1" }, func(int) int { return 0 })
		if err != nil {
			t.Fatalf("err = %v, want nil; suspension: %+v %v", err, s, err)
		}
		if s.ListID != "s1" {
			t.Fatalf("s.ListID = %q, want \"s1\"; suspension: %+v %v", s.ListID, s, err)
		}
		if s.Index != 0 {
			t.Fatalf("s.Index = %v, want 0; suspension: %+v %v", s.Index, s, err)
		}
		l, err := db.GetStatusList(ctx, "edu", "r1")
		if err != nil {
			t.Fatalf("err = %v, want nil; list %+v %v", err, l, err)
		}
		if l.Allocated != 12 {
			t.Fatalf("l.Allocated = %v, want 12; list %+v %v", l.Allocated, l, err)
		}
		if l.Size != 16 {
			t.Fatalf("l.Size = %v, want 16; list %+v %v", l.Size, l, err)
		}
		if len(l.Bits) != 2 {
			t.Fatalf("len(l.Bits) = %v, want 2; list %+v %v", len(l.Bits), l, err)
		}
		if l.Version != 0 {
			t.Fatalf("l.Version = %v, want 0; list %+v %v", l.Version, l, err)
		}
		// Draws that always collide fail instead of looping.
		five := func(int) int { return 5 }
		if _, err := db.AllocateStatus(ctx, "hrss", "revocation", 16, func() string { return "r1" }, five); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AllocateStatus(ctx, "hrss", "revocation", 16, func() string { return "r1" }, five); err == nil {
			t.Fatal("a draw that always collides succeeded")
		}
	})
}

// Replicas allocating at once never share an index.
func TestAllocateStatusConcurrently(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		t.Parallel()
		ctx := ctxT(t)
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for w, db := range []*store.DB{d.Open(t), d.Open(t)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					// Small draws make collisions between the replicas likely.
					ref, err := db.AllocateStatus(ctx, "edu", "revocation", 131072, func() string { return fmt.Sprintf("r-%d", w) },
						func(int) int { return rand.IntN(200) })
					if err != nil {
						errs <- err
						return
					}
					k := fmt.Sprintf("%s/%d", ref.ListID, ref.Index)
					mu.Lock()
					dup := seen[k]
					seen[k] = true
					mu.Unlock()
					if dup {
						errs <- fmt.Errorf("index %s handed out twice", k)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != 80 {
			t.Fatalf("%d distinct indexes", len(seen))
		}
	})
}

func TestUpdateStatusList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		t.Parallel()
		db := d.Open(t)
		ctx := ctxT(t)
		if _, err := db.AllocateStatus(ctx, "edu", "revocation", 16, func() string { return "r1" }, func(int) int { return 3 }); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		l, err := db.UpdateStatusList(ctx, "edu", "r1", func(l *credential.StatusList) (bool, error) {
			l.Bits[0] |= 0x10
			l.Version, l.Token, l.Digest, l.UpdatedAt = l.Version+1, "tok-1", "sha256:1", at
			return true, nil
		})
		if err != nil {
			t.Fatalf("err = %v, want nil; %+v %v", err, l, err)
		}
		if l.Version != 1 {
			t.Fatalf("l.Version = %v, want 1; %+v %v", l.Version, l, err)
		}
		// Unchanged: nothing written.
		if _, err := db.UpdateStatusList(ctx, "edu", "r1", func(l *credential.StatusList) (bool, error) { l.Token = "x"; return false, nil }); err != nil {
			t.Fatal(err)
		}
		// A failing change rolls back.
		boom := errors.New("boom")
		if _, err := db.UpdateStatusList(ctx, "edu", "r1", func(l *credential.StatusList) (bool, error) { l.Version = 9; return true, boom }); !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
		got, _ := db.GetStatusList(ctx, "edu", "r1")
		if got.Version != 1 {
			t.Fatalf("got.Version = %v, want 1; stored %+v", got.Version, got)
		}
		if got.Token != "tok-1" {
			t.Fatalf("got.Token = %q, want \"tok-1\"; stored %+v", got.Token, got)
		}
		if got.Bits[0] != 0x10 {
			t.Fatalf("got.Bits[0] = %v, want 0x10; stored %+v", got.Bits[0], got)
		}
		if !got.UpdatedAt.Equal(at) {
			t.Fatalf("got.UpdatedAt.Equal(at) is false; stored %+v", got)
		}
		if got.Anchored != 0 {
			t.Fatalf("got.Anchored = %v, want 0; stored %+v", got.Anchored, got)
		}
		_ = db.MarkStatusAnchored(ctx, "edu", "r1", 1)
		_ = db.MarkStatusAnchored(ctx, "edu", "r1", 0) // never goes back
		if got, _ := db.GetStatusList(ctx, "edu", "r1"); got.Anchored != 1 {
			t.Fatalf("anchored %d", got.Anchored)
		}
		if _, err := db.GetStatusList(ctx, "edu", "nope"); routing.KindOf(err) != routing.KindNotFound {
			t.Fatalf("missing list: %v", err)
		}
	})
}

func TestCredentialsAndChallenges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		t.Parallel()
		db := d.Open(t)
		ctx := ctxT(t)
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		c1 := credential.IssuedCredential{ID: "urn:uuid:1", Issuer: "edu", EID: "did:eidgate:a", DataType: "edu.degree", Version: 1,
			Digest: "sha256:1", Token: "eyJ…~", Status: []credential.StatusRef{{Purpose: "revocation", ListID: "r1", Index: 7}}, IssuedAt: at}
		c2 := c1
		c2.ID, c2.Version, c2.IssuedAt, c2.ValidUntil = "urn:uuid:2", 2, at.Add(time.Hour), at.AddDate(1, 0, 0)
		for _, c := range []credential.IssuedCredential{c1, c2} {
			if err := db.SaveCredential(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.SaveCredential(ctx, c1); err == nil {
			t.Fatal("saved a credential id twice")
		}
		list, err := db.ListCredentials(ctx, "did:eidgate:a")
		if err != nil {
			t.Fatalf("err = %v, want nil; list %+v %v", err, list, err)
		}
		if len(list) != 2 {
			t.Fatalf("len(list) = %v, want 2; list %+v %v", len(list), list, err)
		}
		if list[0].ID != "urn:uuid:2" {
			t.Fatalf("list[0].ID = %q, want \"urn:uuid:2\"; list %+v %v", list[0].ID, list, err)
		}
		if !list[0].ValidUntil.Equal(c2.ValidUntil) {
			t.Fatalf("list[0].ValidUntil.Equal(c2.ValidUntil) is false; list %+v %v", list, err)
		}
		if !list[1].ValidUntil.IsZero() {
			t.Fatalf("list[1].ValidUntil.IsZero() is false; list %+v %v", list, err)
		}
		if err := db.SetCredentialStatus(ctx, "urn:uuid:1", true, false); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetCredential(ctx, "urn:uuid:1")
		if err != nil {
			t.Fatalf("err = %v, want nil; get %+v %v", err, got, err)
		}
		if !got.Revoked {
			t.Fatalf("got.Revoked is false; get %+v %v", got, err)
		}
		if got.Status[0].Index != 7 {
			t.Fatalf("got.Status[0].Index = %v, want 7; get %+v %v", got.Status[0].Index, got, err)
		}
		if got.Token != "eyJ…~" {
			t.Fatalf("got.Token = %q, want \"eyJ…~\"; get %+v %v", got.Token, got, err)
		}
		if _, err := db.GetCredential(ctx, "urn:uuid:9"); routing.KindOf(err) != routing.KindNotFound {
			t.Fatalf("missing: %v", err)
		}
		if err := db.SetCredentialStatus(ctx, "urn:uuid:9", true, true); routing.KindOf(err) != routing.KindNotFound {
			t.Fatalf("missing status: %v", err)
		}

		ch := credential.Challenge{Nonce: "n-1", Verifier: "hrss", Audience: "did:eidgate:dept:hrss", Purpose: "employment", CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
		if err := db.SaveChallenge(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ConsumeChallenge(ctx, "n-1", "civil-affairs", at); routing.CodeOf(err) != credential.CodeChallenge {
			t.Fatalf("another verifier: %v", err)
		}
		if _, err := db.ConsumeChallenge(ctx, "n-1", "hrss", at.Add(6*time.Minute)); routing.CodeOf(err) != credential.CodeChallenge {
			t.Fatalf("expired: %v", err)
		}
		got2, err := db.ConsumeChallenge(ctx, "n-1", "hrss", at.Add(time.Minute))
		if err != nil {
			t.Fatalf("err = %v, want nil; consume %+v %v", err, got2, err)
		}
		if got2.Purpose != "employment" {
			t.Fatalf("got2.Purpose = %q, want \"employment\"; consume %+v %v", got2.Purpose, got2, err)
		}
		if got2.Audience != ch.Audience {
			t.Fatalf("got2.Audience = %v, want ch.Audience; consume %+v %v", got2.Audience, got2, err)
		}
		if !got2.ExpiresAt.Equal(ch.ExpiresAt) {
			t.Fatalf("got2.ExpiresAt.Equal(ch.ExpiresAt) is false; consume %+v %v", got2, err)
		}
		if _, err := db.ConsumeChallenge(ctx, "n-1", "hrss", at.Add(time.Minute)); routing.CodeOf(err) != credential.CodeChallenge {
			t.Fatalf("replay: %v", err)
		}
	})
}

// The portal's holder keys: sealed in the database, one per resident even
// when two replicas make one at once, and useless under another sealing
// key or for another resident.
func TestHolderKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		t.Parallel()
		ctx := ctxT(t)
		a, b := d.Open(t), d.Open(t)
		secret := make([]byte, 32)
		ha, err := credential.NewSealedHolders(a, secret)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := credential.NewSealedHolders(b, secret)
		const eid = "did:eidgate:0123456789abcdef0123456789abcdef"
		var wg sync.WaitGroup
		keys := make([]*ecdsa.PublicKey, 2)
		for i, h := range []*credential.SealedHolders{ha, hb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := h.HolderKey(ctx, eid)
				if err != nil {
					t.Error(err)
					return
				}
				keys[i] = k.Public().(*ecdsa.PublicKey)
			}()
		}
		wg.Wait()
		if keys[0] == nil || keys[1] == nil || !keys[0].Equal(keys[1]) {
			t.Fatal("two replicas made two keys for one resident")
		}
		sealed, err := a.GetHolderKey(ctx, eid)
		if err != nil || len(sealed) < 100 {
			t.Fatalf("sealed %d bytes, %v", len(sealed), err)
		}
		other := make([]byte, 32)
		other[0] = 1
		hx, _ := credential.NewSealedHolders(a, other)
		if _, err := hx.HolderKey(ctx, eid); routing.KindOf(err) != routing.KindInternal {
			t.Fatalf("another sealing key opened it: %v", err)
		}
		// Moved to another resident, the sealed key does not open.
		const eid2 = "did:eidgate:ffffffffffffffffffffffffffffffff"
		if _, err := a.PutHolderKey(ctx, eid2, sealed); err != nil {
			t.Fatal(err)
		}
		if _, err := ha.HolderKey(ctx, eid2); routing.KindOf(err) != routing.KindInternal {
			t.Fatalf("a key moved to another resident opened: %v", err)
		}
		if _, err := a.GetHolderKey(ctx, "did:eidgate:00000000000000000000000000000000"); routing.KindOf(err) != routing.KindNotFound {
			t.Fatalf("missing: %v", err)
		}
	})
}
