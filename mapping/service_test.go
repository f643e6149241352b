package mapping_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/mapping"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

func TestCreateFindAndConflict(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		card := resident(1)
		passport := mapping.Input{Type: "passport", Number: "L898902C3", Country: "USA"}
		f.secret(card.Number, passport.Number)

		out, err := f.svc.Create(ctxb, []mapping.Input{card, passport}, "officer-1")
		if err != nil {
			t.Fatal(err)
		}
		if !model.ValidDID(out.EID) {
			t.Fatalf("model.ValidDID(out.EID) is false; created %+v", out)
		}
		if out.ActivationCode == "" {
			t.Fatalf("out.ActivationCode == \"\", want it different; created %+v", out)
		}
		if len(out.Documents) != 2 {
			t.Fatalf("len(out.Documents) = %v, want 2; created %+v", len(out.Documents), out)
		}
		refPattern := regexp.MustCompile(`^doc_[0-9a-f]{32}$`)
		for _, d := range out.Documents {
			if !refPattern.MatchString(d.Ref) {
				t.Fatalf("refPattern.MatchString(d.Ref) is false; document %+v", d)
			}
			if d.KeyVersion != "v1" {
				t.Fatalf("d.KeyVersion = %q, want \"v1\"; document %+v", d.KeyVersion, d)
			}
			if !strings.Contains(d.Masked, "*") {
				t.Fatalf("strings.Contains(d.Masked, \"*\") is false; document %+v", d)
			}
		}
		if out.Documents[1].Country != "USA" {
			t.Fatalf("out.Documents[1].Country = %q, want \"USA\"; passport shown as %+v", out.Documents[1].Country, out.Documents[1])
		}
		if out.Documents[1].Masked != "L8*****C3" {
			t.Fatalf("out.Documents[1].Masked = %q, want \"L8*****C3\"; passport shown as %+v", out.Documents[1].Masked, out.Documents[1])
		}

		for _, doc := range []mapping.Input{card, passport, {Type: "passport", Number: "USA:l898902c3"}} {
			eid, err := f.svc.Find(ctxb, doc)
			if err != nil || eid != out.EID {
				t.Fatalf("find %s: %q %v", doc.Type, eid, err)
			}
		}
		// A first-generation spelling of the same card is the same document.
		old := card.Number[:6] + card.Number[8:17]
		if eid, err := f.svc.Find(ctxb, mapping.Input{Type: "cn-resident", Number: old}); err != nil || eid != out.EID {
			t.Fatalf("15-digit spelling: %q %v", eid, err)
		}

		// Creating again with one mapped document is a conflict that does not
		// name the eID holding it; nothing new is minted.
		other := resident(2)
		f.secret(other.Number)
		_, err = f.svc.Create(ctxb, []mapping.Input{other, passport}, "officer-2")
		checkErr(t, err, routing.KindConflict, "document_already_mapped", out.EID, strings.TrimPrefix(out.EID, model.DIDPrefix))
		if _, err := f.svc.Find(ctxb, other); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("the refused creation mapped its other document: %v", err)
		}

		docs, err := f.svc.Documents(ctxb, out.EID)
		if err != nil || len(docs) != 2 {
			t.Fatalf("documents %v %v", docs, err)
		}
		if f.issuer.count(out.EID) != 1 {
			t.Fatalf("activation codes issued: %v", f.issuer.issued)
		}
	})
}

func TestCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		good := resident(3)
		bad := residentNumber(4)
		bad = bad[:17] + map[bool]string{true: "1", false: "2"}[bad[17] != '1'] // wrong check character
		f.secret(good.Number, bad)

		tests := []struct {
			name  string
			docs  []mapping.Input
			code  string
			field string
		}{
			{"none", nil, "invalid_documents", "documents"},
			{"checksum", []mapping.Input{good, {Type: "cn-resident", Number: bad}}, "invalid_document", "documents[1].number"},
			{"unknown type", []mapping.Input{{Type: "driving-licence", Number: good.Number}}, "invalid_document", "documents[0].type"},
			{"passport state", []mapping.Input{{Type: "passport", Number: "L898902C3", Country: "ZZZ"}}, "invalid_document", "documents[0].country"},
			{"duplicate", []mapping.Input{good, {Type: "cn-resident", Number: strings.ToLower(good.Number[:6]) + " " + good.Number[6:]}}, "duplicate_document", "documents[1]"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Create(ctxb, tc.docs, "officer")
				re := checkErr(t, err, routing.KindInvalid, tc.code, good.Number, bad)
				if re.Field != tc.field {
					t.Fatalf("field %q, want %q", re.Field, tc.field)
				}
			})
		}
		if f.chain.count(model.FnCreateEID) != 0 {
			t.Fatal("invalid input reached the ledger")
		}
	})
}

func TestFindErrors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		n := residentNumber(5)
		f.secret(n)
		_, err := f.svc.Find(ctxb, mapping.Input{Type: "cn-resident", Number: n})
		checkErr(t, err, routing.KindNotFound, "document_not_mapped", n)

		_, err = f.svc.Find(ctxb, mapping.Input{Type: "cn-resident", Number: n[:17]})
		re := checkErr(t, err, routing.KindInvalid, "invalid_document", n[:17])
		if re.Field != "document.number" || re.Details["reason"] != string(mapping.ReasonLength) {
			t.Fatalf("field %q details %v", re.Field, re.Details)
		}
		_, err = f.svc.LookupDocument(ctxb, n, "cn-resident", "")
		re = checkErr(t, err, routing.KindInvalid, "invalid_document", n)
		if re.Field != "subject.document.type" {
			t.Fatalf("swapped type and number: field %q", re.Field)
		}
	})
}

// A document created a moment after a failed lookup resolves at once: a
// miss is never cached. A hit is, and is served from the cache.
func TestNoNegativeCaching(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		doc := resident(6)
		f.secret(doc.Number)
		if _, err := f.svc.LookupDocument(ctxb, string(doc.Type), doc.Number, ""); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("before creation: %v", err)
		}
		out, err := f.svc.Create(ctxb, []mapping.Input{doc}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		if eid, err := f.svc.LookupDocument(ctxb, string(doc.Type), doc.Number, ""); err != nil || eid != out.EID {
			t.Fatalf("right after creation: %q %v", eid, err)
		}
		lookups := f.chain.count(model.FnLookupIndex)
		if eid, err := f.svc.Find(ctxb, doc); err != nil || eid != out.EID {
			t.Fatalf("cached: %q %v", eid, err)
		}
		if f.chain.count(model.FnLookupIndex) != lookups {
			t.Fatal("a found index was not served from the cache")
		}
	})
}

func TestAddAndRemoveDocuments(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		first, second, third := resident(10), resident(11), resident(12)
		f.secret(first.Number, second.Number, third.Number)
		a, err := f.svc.Create(ctxb, []mapping.Input{first}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.Create(ctxb, []mapping.Input{third}, "officer")
		if err != nil {
			t.Fatal(err)
		}

		added, err := f.svc.AddDocument(ctxb, a.EID, second, "officer")
		if err != nil {
			t.Fatal(err)
		}
		if eid, err := f.svc.Find(ctxb, second); err != nil || eid != a.EID {
			t.Fatalf("find added: %q %v", eid, err)
		}
		// Adding it again answers with the stored document.
		again, err := f.svc.AddDocument(ctxb, a.EID, second, "officer")
		if err != nil {
			t.Fatalf("err = %v, want nil; add again: %+v %v", err, again, err)
		}
		if again.Ref != added.Ref {
			t.Fatalf("again.Ref = %v, want added.Ref; add again: %+v %v", again.Ref, again, err)
		}
		// Another resident's document is refused without naming that resident.
		_, err = f.svc.AddDocument(ctxb, a.EID, third, "officer")
		checkErr(t, err, routing.KindConflict, "document_already_mapped", b.EID)

		// Remove by ref; the document no longer resolves.
		if err := f.svc.RemoveDocument(ctxb, b.EID, added.Ref, "officer"); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("removing through another eID: %v", err)
		}
		if err := f.svc.RemoveDocument(ctxb, a.EID, added.Ref, "officer"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Find(ctxb, second); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("removed document still resolves: %v", err)
		}
		docs, _ := f.svc.Documents(ctxb, a.EID)
		if len(docs) != 1 {
			t.Fatalf("len(docs) = %v, want 1; documents after removal: %+v", len(docs), docs)
		}
		if docs[0].Ref != a.Documents[0].Ref {
			t.Fatalf("docs[0].Ref = %v, want a.Documents[0].Ref; documents after removal: %+v", docs[0].Ref, docs)
		}
		// The last document stays.
		err = f.svc.RemoveDocument(ctxb, a.EID, a.Documents[0].Ref, "officer")
		checkErr(t, err, routing.KindConflict, "last_document")
		if eid, err := f.svc.Find(ctxb, first); err != nil || eid != a.EID {
			t.Fatalf("last document: %q %v", eid, err)
		}
		// The removed document can be mapped again, here to the other eID.
		if _, err := f.svc.AddDocument(ctxb, b.EID, second, "officer"); err != nil {
			t.Fatal(err)
		}
		if eid, _ := f.svc.Find(ctxb, second); eid != b.EID {
			t.Fatalf("re-added document resolves to %q", eid)
		}
	})
}

// Two officers removing the same document at once both succeed: the second
// to reach the store finds the document removed already, which finishes
// its removal instead of failing it (it used to answer 503). A removal of
// a document that is gone answers document_not_found.
func TestRemoveDocumentRacingAnotherRemoval(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		kept, removed := resident(13), resident(14)
		f.secret(kept.Number, removed.Number)
		a, err := f.svc.Create(ctxb, []mapping.Input{kept, removed}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		ref := a.Documents[1].Ref
		// The other officer's removal reaches the store first.
		f.docs.beforeRemove(func(ref string) {
			if err := f.db.RemoveDocument(ctxb, ref); err != nil {
				t.Errorf("the other removal: %v", err)
			}
		})
		if err := f.svc.RemoveDocument(ctxb, a.EID, ref, "officer"); err != nil {
			t.Fatalf("a removal that raced another: %v, want success", err)
		}
		f.docs.beforeRemove(nil)
		if _, err := f.svc.Find(ctxb, removed); !routing.IsKind(err, routing.KindNotFound) {
			t.Errorf("the removed document still resolves: %v", err)
		}
		if docs, _ := f.svc.Documents(ctxb, a.EID); len(docs) != 1 {
			t.Errorf("len(docs) = %v, want 1; documents after the removals: %+v, want only %s", len(docs), docs, a.Documents[0].Ref)
		} else if docs[0].Ref != a.Documents[0].Ref {
			t.Errorf("docs[0].Ref = %v, want a.Documents[0].Ref; documents after the removals: %+v, want only %s", docs[0].Ref, docs, a.Documents[0].Ref)
		}
		err = f.svc.RemoveDocument(ctxb, a.EID, ref, "officer")
		if re := checkErr(t, err, routing.KindNotFound, "document_not_found"); re.Field != "ref" {
			t.Errorf("removing it once more names field %q, want ref", re.Field)
		}
	})
}

func TestMergeAndDeactivate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		d1, d2 := resident(20), resident(21)
		f.secret(d1.Number, d2.Number)
		a, err := f.svc.Create(ctxb, []mapping.Input{d1}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.Create(ctxb, []mapping.Input{d2}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		if eid, _ := f.svc.Find(ctxb, d1); eid != a.EID { // cached now
			t.Fatalf("before merge: %q", eid)
		}
		err = f.svc.Merge(ctxb, a.EID, b.EID, "", "officer")
		checkErr(t, err, routing.KindInvalid, "reason_required")
		if err := f.svc.Merge(ctxb, a.EID, b.EID, "duplicate registration", "officer"); err != nil {
			t.Fatal(err)
		}
		if eid, err := f.svc.Find(ctxb, d1); err != nil || eid != b.EID {
			t.Fatalf("old document after merge: %q %v (want the survivor)", eid, err)
		}
		docs, _ := f.svc.Documents(ctxb, b.EID)
		gone, _ := f.svc.Documents(ctxb, a.EID)
		if len(docs) != 2 || len(gone) != 0 {
			t.Fatalf("documents after merge: survivor %d, merged %d", len(docs), len(gone))
		}
		// Merging again finishes (here: repeats) the move without a ledger call.
		merges := f.chain.count(model.FnMergeEID)
		if err := f.svc.Merge(ctxb, a.EID, b.EID, "duplicate registration", "officer"); err != nil {
			t.Fatal(err)
		}
		if f.chain.count(model.FnMergeEID) != merges {
			t.Fatal("a repeated merge went to the ledger again")
		}
		_, err = f.svc.NewActivationCode(ctxb, a.EID, "officer")
		re := checkErr(t, err, routing.KindConflict, "eid_merged")
		if re.Details["merged_into"] != b.EID {
			t.Fatalf("details %v", re.Details)
		}

		if err := f.svc.Deactivate(ctxb, b.EID, "deceased", "officer"); err != nil {
			t.Fatal(err)
		}
		if eid, err := f.svc.Find(ctxb, d2); err != nil || eid != b.EID {
			t.Fatalf("a deactivated eID still holds its documents: %q %v", eid, err)
		}
		_, err = f.svc.NewActivationCode(ctxb, b.EID, "officer")
		checkErr(t, err, routing.KindConflict, "eid_not_active")
		d3 := resident(22)
		f.secret(d3.Number)
		_, err = f.svc.AddDocument(ctxb, b.EID, d3, "officer")
		checkErr(t, err, routing.KindConflict, "eid_not_active")
		_, err = f.svc.Create(ctxb, []mapping.Input{d2}, "officer")
		checkErr(t, err, routing.KindConflict, "document_already_mapped", b.EID)
	})
}

func TestNewActivationCode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		d := resident(30)
		f.secret(d.Number)
		out, err := f.svc.Create(ctxb, []mapping.Input{d}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		if code, err := f.svc.NewActivationCode(ctxb, out.EID, "officer"); err != nil || code == "" {
			t.Fatalf("%q %v", code, err)
		}
		if f.issuer.count(out.EID) != 2 {
			t.Fatalf("issued %v", f.issuer.issued)
		}
		_, err = f.svc.NewActivationCode(ctxb, model.DIDPrefix+strings.Repeat("0", 32), "officer")
		checkErr(t, err, routing.KindNotFound, "eid_not_found")
		_, err = f.svc.NewActivationCode(ctxb, "did:eidgate:nope", "officer")
		checkErr(t, err, routing.KindInvalid, "invalid_eid")
	})
}

// A creation whose database write failed after the ledger committed is
// finished by submitting the same documents again.
func TestCreateFinishesAfterStoreFailure(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		d := resident(31)
		f.secret(d.Number)
		f.docs.failPuts(errors.New("database is down"))
		_, err := f.svc.Create(ctxb, []mapping.Input{d}, "officer")
		checkErr(t, err, routing.KindUnavailable, "database_unavailable")
		f.docs.failPuts(nil)
		out, err := f.svc.Create(ctxb, []mapping.Input{d}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		if eid, _ := f.svc.Find(ctxb, d); eid != out.EID || f.chain.count(model.FnCreateEID) != 2 {
			t.Fatalf("finished creation: %q", eid)
		}
		// Once stored it is a plain conflict again.
		_, err = f.svc.Create(ctxb, []mapping.Input{d}, "officer")
		checkErr(t, err, routing.KindConflict, "document_already_mapped", out.EID)
	})
}

func TestAccountLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		f.chain.registerDepartment(t, "edu-bureau")
		f.chain.registerDepartment(t, "civil-affairs")
		d1, d2 := resident(40), resident(41)
		f.secret(d1.Number, d2.Number)
		const account = "student-20250001"
		f.secret(account)
		a, err := f.svc.Create(ctxb, []mapping.Input{d1}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.Create(ctxb, []mapping.Input{d2}, "officer")
		if err != nil {
			t.Fatal(err)
		}

		link, err := f.svc.LinkAccount(ctxb, "edu-bureau", account, d1)
		if err != nil {
			t.Fatal(err)
		}
		if link.EID != a.EID {
			t.Fatalf("link.EID = %v, want a.EID; link %+v", link.EID, link)
		}
		if link.Department != "edu-bureau" {
			t.Fatalf("link.Department = %q, want \"edu-bureau\"; link %+v", link.Department, link)
		}
		if link.AccountHash != f.svc.Keyring().AccountHash("edu-bureau", account) {
			t.Fatalf("link.AccountHash = %v, want f.svc.Keyring().AccountHash(\"edu-bureau\", account); link %+v", link.AccountHash, link)
		}
		if again, err := f.svc.LinkAccount(ctxb, "edu-bureau", account, d1); err != nil {
			t.Fatalf("err = %v, want nil; linking again: %+v %v", err, again, err)
		} else if again.AccountHash != link.AccountHash {
			t.Fatalf("again.AccountHash = %v, want link.AccountHash; linking again: %+v %v", again.AccountHash, again, err)
		}
		if eid, err := f.svc.LookupAccount(ctxb, "edu-bureau", account); err != nil || eid != a.EID {
			t.Fatalf("lookup: %q %v", eid, err)
		}
		// Another department's account of the same id is another account.
		_, err = f.svc.LookupAccount(ctxb, "civil-affairs", account)
		checkErr(t, err, routing.KindNotFound, "account_not_linked", account)

		// One account per resident and department; one resident per account.
		_, err = f.svc.LinkAccount(ctxb, "edu-bureau", "student-other", d1)
		checkErr(t, err, routing.KindConflict, "eid_already_linked", account)
		_, err = f.svc.LinkAccount(ctxb, "edu-bureau", account, d2)
		checkErr(t, err, routing.KindConflict, "account_already_linked", a.EID, account)
		if _, err := f.svc.LinkAccount(ctxb, "civil-affairs", account, d2); err != nil {
			t.Fatal(err)
		}
		if eid, _ := f.svc.LookupAccount(ctxb, "civil-affairs", account); eid != b.EID {
			t.Fatalf("civil-affairs lookup %q", eid)
		}

		if err := f.svc.UnlinkAccount(ctxb, "edu-bureau", a.EID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.LookupAccount(ctxb, "edu-bureau", account)
		checkErr(t, err, routing.KindNotFound, "account_not_linked")
		err = f.svc.UnlinkAccount(ctxb, "edu-bureau", a.EID)
		checkErr(t, err, routing.KindNotFound, "account_not_linked")

		for _, bad := range []string{"", strings.Repeat("x", 129), "line\nbreak", "tab\there", "\x00"} {
			_, err := f.svc.LookupAccount(ctxb, "edu-bureau", bad)
			re := checkErr(t, err, routing.KindInvalid, "invalid_local_account")
			if re.Field != "local_account" {
				t.Fatalf("field %q", re.Field)
			}
		}
		if _, err := f.svc.LookupAccount(ctxb, "edu-bureau", strings.Repeat("学", 128)); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("128 printable characters: %v", err)
		}
		_, err = f.svc.LinkAccount(ctxb, "Edu Bureau", account, d1)
		checkErr(t, err, routing.KindInvalid, "invalid_department")
	})
}

// The service and the importer refuse to be built without what they need.
func TestZeroConfigIsRefused(t *testing.T) {
	t.Parallel()
	if _, err := mapping.NewService(mapping.Config{}); routing.CodeOf(err) != "missing_dependency" {
		t.Errorf("NewService(Config{}) = %v, want missing_dependency", err)
	}
	if _, err := mapping.NewImporter(mapping.ImporterConfig{}); routing.CodeOf(err) != "missing_dependency" {
		t.Errorf("NewImporter(ImporterConfig{}) = %v, want missing_dependency", err)
	}
}

// An eID's detail is its ledger record, its documents masked and its
// account links.
func TestIdentityDetail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		f.chain.registerDepartment(t, "edu-bureau")
		doc := resident(40)
		f.secret(doc.Number)
		out, err := f.svc.Create(ctxb, []mapping.Input{doc}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Identity(ctxb, out.EID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Identity.ID != out.EID {
			t.Errorf("d.Identity.ID = %v, want out.EID; identity %+v, want the active %s", d.Identity.ID, d.Identity, out.EID)
		} else if d.Identity.Status != model.EIDActive {
			t.Errorf("d.Identity.Status = %v, want model.EIDActive; identity %+v, want the active %s", d.Identity.Status, d.Identity, out.EID)
		}
		if len(d.Documents) != 1 {
			t.Errorf("len(d.Documents) = %v, want 1; documents %+v, want the one created", len(d.Documents), d.Documents)
		} else if d.Documents[0].Ref != out.Documents[0].Ref {
			t.Errorf("d.Documents[0].Ref = %v, want out.Documents[0].Ref; documents %+v, want the one created", d.Documents[0].Ref, d.Documents)
		}
		if d.Links == nil || len(d.Links) != 0 {
			t.Errorf("links %v, want an empty list", d.Links)
		}
		if _, err := f.svc.LinkAccount(ctxb, "edu-bureau", "S-1", doc); err != nil {
			t.Fatal(err)
		}
		if d, err = f.svc.Identity(ctxb, out.EID); err != nil {
			t.Errorf("err = %v, want nil; links after linking: %+v, %v", err, d, err)
		} else if len(d.Links) != 1 {
			t.Errorf("len(d.Links) = %v, want 1; links after linking: %+v, %v", len(d.Links), d, err)
		} else if d.Links[0].Department != "edu-bureau" {
			t.Errorf("d.Links[0].Department = %q, want \"edu-bureau\"; links after linking: %+v, %v", d.Links[0].Department, d, err)
		}
		if _, err := f.svc.Identity(ctxb, "did:eidgate:"+strings.Repeat("0", 32)); !routing.IsKind(err, routing.KindNotFound) {
			t.Errorf("an unknown eID: %v, want not_found", err)
		}
	})
}
