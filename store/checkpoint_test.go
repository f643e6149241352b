package store_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/store/storetest"
)

// Committed pages reach the database file while the WAL is far below the
// size at which a commit would checkpoint it itself: the checkpointer
// copies them beside the writer. Nothing is lost on the way.
func TestCommittedPagesReachTheDatabaseFile(t *testing.T) {
	d := storetest.SQLite(t)
	db := d.Open(t)
	ctx := ctxT(t)
	size := func() int64 {
		st, err := os.Stat(d.DSN)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	const batches, per = 5, 1000 // about 1,000 pages, well below the backstop
	for b := range batches {
		docs := make([]mapping.StoredDocument, per)
		for i := range docs {
			n := b*per + i
			docs[i] = doc(fmt.Sprintf("did:eidgate:%032x", n*7919%100_003), blindValue(n), "1101**********34")
			docs[i].Ref = fmt.Sprintf("doc_%08d", n)
		}
		if err := db.PutDocuments(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for size() < before+1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is still %d bytes (%d before the writes): nothing was checkpointed", size(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range []int{0, per*batches - 1} {
		if _, err := db.Document(ctx, fmt.Sprintf("doc_%08d", n)); err != nil {
			t.Fatalf("document %d: %v", n, err)
		}
	}
}
