package store_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

func doc(eid, blind, masked string) mapping.StoredDocument {
	return mapping.StoredDocument{EID: eid, Type: "cn-resident", Masked: masked,
		KeyVersion: "k1", BlindValue: blind, Sealed: []byte{0x01, 0x00, 0xff, 0x7f}}
}

func blindValue(i int) string { return fmt.Sprintf("%064x", i) }

func refsOf(ds []mapping.StoredDocument) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Ref
	}
	return out
}

func TestDocumentsAreMappedMovedAndRemoved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		a1, a2, b1 := doc("did:eidgate:a", blindValue(1), "1101**********34"), doc("did:eidgate:a", blindValue(2), "E1*****9"), doc("did:eidgate:b", blindValue(3), "G7*****1")
		a1.Ref, a2.Ref, b1.Ref = "doc_a1", "doc_a2", "doc_b1"
		if err := db.PutDocuments(ctx, []mapping.StoredDocument{a1, a2, b1}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Document(ctx, "doc_a1")
		if err != nil {
			t.Fatal(err)
		}
		if got.EID != a1.EID {
			t.Errorf("got.EID = %v, want a1.EID; Document(doc_a1) = %+v, want the stored %+v", got.EID, got, a1)
		} else if got.Type != a1.Type {
			t.Errorf("got.Type = %v, want a1.Type; Document(doc_a1) = %+v, want the stored %+v", got.Type, got, a1)
		} else if got.Masked != a1.Masked {
			t.Errorf("got.Masked = %v, want a1.Masked; Document(doc_a1) = %+v, want the stored %+v", got.Masked, got, a1)
		} else if got.BlindValue != a1.BlindValue {
			t.Errorf("got.BlindValue = %v, want a1.BlindValue; Document(doc_a1) = %+v, want the stored %+v", got.BlindValue, got, a1)
		}
		if !bytes.Equal(got.Sealed, a1.Sealed) {
			t.Errorf("sealed number %x, want %x", got.Sealed, a1.Sealed)
		}
		if got.AddedAt.IsZero() {
			t.Error("a document stored without a time has no AddedAt")
		}
		if _, err := db.Document(ctx, "doc_missing"); routing.CodeOf(err) != "document_not_found" {
			t.Errorf("Document(missing) = %v, want document_not_found", err)
		}

		// A merge moves a's documents to b.
		if err := db.MoveDocuments(ctx, "did:eidgate:a", "did:eidgate:b"); err != nil {
			t.Fatal(err)
		}
		if ds, _ := db.DocumentsOf(ctx, "did:eidgate:a"); len(ds) != 0 {
			t.Errorf("a still has documents %v", refsOf(ds))
		}
		ds, err := db.DocumentsOf(ctx, "did:eidgate:b")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"doc_a1", "doc_a2", "doc_b1"}; !slices.Equal(refsOf(ds), want) {
			t.Errorf("b's documents %v, want %v (oldest first)", refsOf(ds), want)
		}
		if err := db.MoveDocuments(ctx, "x", "x"); !routing.IsKind(err, routing.KindInvalid) {
			t.Errorf("merging an eID into itself: %v, want invalid", err)
		}

		// Removing keeps the row as history, hides it and frees its index;
		// removing again (a retry, or a removal that raced this one) is no
		// error.
		for i := range 2 {
			if err := db.RemoveDocument(ctx, "doc_a1"); err != nil {
				t.Fatalf("removal %d: %v", i+1, err)
			}
		}
		if err := db.RemoveDocument(ctx, "doc_never_stored"); err != nil {
			t.Errorf("removing a document never stored: %v, want no error", err)
		}
		if _, err := db.Document(ctx, "doc_a1"); routing.CodeOf(err) != "document_not_found" {
			t.Errorf("Document(removed) = %v, want document_not_found", err)
		}
		if ds, _ := db.DocumentsOf(ctx, "did:eidgate:b"); !slices.Equal(refsOf(ds), []string{"doc_a2", "doc_b1"}) {
			t.Errorf("after the removal b has %v", refsOf(ds))
		}
		again := doc("did:eidgate:c", blindValue(1), "1101**********34")
		again.Ref = "doc_c1"
		if err := db.PutDocuments(ctx, []mapping.StoredDocument{again}); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Document(ctx, "doc_c1"); err != nil {
			t.Errorf("err = %v, want nil; the removed document's index mapped again: %+v, %v", err, got, err)
		} else if got.EID != "did:eidgate:c" {
			t.Errorf("got.EID = %q, want \"did:eidgate:c\"; the removed document's index mapped again: %+v, %v", got.EID, got, err)
		}
	})
}

func TestDocumentBatchesAndKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		var batch []mapping.StoredDocument
		for i := range 40 {
			batch = append(batch, doc(fmt.Sprintf("did:eidgate:%d", i%10), blindValue(i), fmt.Sprintf("M****%02d", i)))
		}
		if err := db.PutDocuments(ctx, batch); err != nil {
			t.Fatal(err)
		}
		// A resumed import repeats a batch: nothing is stored twice.
		repeat := slices.Clone(batch[30:])
		for i := range repeat {
			repeat[i].Ref = ""
		}
		repeat = append(repeat, doc("did:eidgate:new", blindValue(99), "N****99"))
		if err := db.PutDocuments(ctx, repeat); err != nil {
			t.Fatal(err)
		}
		found, err := db.DocumentsByIndex(ctx, []mapping.Index{{KeyVersion: "k1", Value: blindValue(3)},
			{KeyVersion: "k0", Value: blindValue(4)}, {KeyVersion: "k1", Value: blindValue(99)}, {KeyVersion: "k1", Value: blindValue(35)}})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(found, func(a, b mapping.StoredDocument) int {
			return bytes.Compare([]byte(a.BlindValue), []byte(b.BlindValue))
		})
		if len(found) != 3 {
			t.Fatalf("len(found) = %v, want 3; DocumentsByIndex found %+v, want M****03, M****35 (stored once) and the new one", len(found), found)
		}
		if found[0].Masked != "M****03" {
			t.Fatalf("found[0].Masked = %q, want \"M****03\"; DocumentsByIndex found %+v, want M****03, M****35 (stored once) and the new one", found[0].Masked, found)
		}
		if found[1].Masked != "M****35" {
			t.Fatalf("found[1].Masked = %q, want \"M****35\"; DocumentsByIndex found %+v, want M****03, M****35 (stored once) and the new one", found[1].Masked, found)
		}
		if found[2].EID != "did:eidgate:new" {
			t.Fatalf("found[2].EID = %q, want \"did:eidgate:new\"; DocumentsByIndex found %+v, want M****03, M****35 (stored once) and the new one", found[2].EID, found)
		}

		// Rotate to k2, a page at a time.
		var after string
		rotated := 0
		for {
			page, err := db.DocumentsNotAt(ctx, "k2", after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			var ups []mapping.IndexUpdate
			for _, p := range page {
				if p.Ref <= after {
					t.Fatalf("page not in ref order: %s after %s", p.Ref, after)
				}
				ups = append(ups, mapping.IndexUpdate{Ref: p.Ref, KeyVersion: "k2", BlindValue: "2" + p.BlindValue[1:]})
				after = p.Ref
			}
			if err := db.SetIndexes(ctx, ups); err != nil {
				t.Fatal(err)
			}
			rotated += len(page)
		}
		if rotated != 41 {
			t.Errorf("rotated %d documents, want 41", rotated)
		}
		if left, _ := db.DocumentsNotAt(ctx, "k2", "", 100); len(left) != 0 {
			t.Errorf("%d documents left on old keys", len(left))
		}
		if got, err := db.DocumentsByIndex(ctx, []mapping.Index{{KeyVersion: "k2", Value: "2" + blindValue(5)[1:]}}); err != nil || len(got) != 1 {
			t.Errorf("rotated document by its new index: %d found, %v", len(got), err)
		}
		err = db.SetIndexes(ctx, []mapping.IndexUpdate{{Ref: batch[0].Ref, KeyVersion: "k3", BlindValue: blindValue(1)}, {Ref: "doc_missing", KeyVersion: "k3", BlindValue: blindValue(2)}})
		if routing.CodeOf(err) != "document_not_found" {
			t.Errorf("update of a missing ref: %v, want document_not_found", err)
		}
		if got, _ := db.Document(ctx, batch[0].Ref); got.KeyVersion != "k2" {
			t.Errorf("a failed rotation batch was partly applied: key version %s", got.KeyVersion)
		}
	})
}
