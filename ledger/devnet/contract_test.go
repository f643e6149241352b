package devnet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/routing"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

func blind(seed string) model.BlindedIndex {
	var b [32]byte
	copy(b[:], seed)
	return model.BlindedIndex{KeyVersion: "v1", Value: hex.EncodeToString(b[:])}
}

// TestEveryContractFunctionThroughTheClient calls each typed method of the
// ledger client against the devnet running the real contract, as the
// gateway does, and checks what comes back. A contract function without a
// case here fails the test.
func TestEveryContractFunctionThroughTheClient(t *testing.T) {
	cc, err := chaincode.NewChaincode(devnet.DefaultPlatformMSPID)
	if err != nil {
		t.Fatal(err)
	}
	p := openPeer(t, "", func(c *devnet.Config) {
		c.Chaincodes = map[string]shim.Chaincode{devnet.DefaultChaincode: cc}
		c.Orgs = []devnet.OrgConfig{{ID: "edu", MSPID: "EduMSP"}, {ID: "hr", MSPID: "HrMSP"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := inProcess(t, p, devnet.PlatformOrg, devnet.AdminName)
	agent := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	edu := overTLS(t, p, "edu", devnet.DepartmentSystemName)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := model.MarshalPublicKey(&key.PublicKey)
	var eid, other, consentID string
	called := map[string]bool{}
	step := func(fn string, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		called[fn] = true
	}
	expect := func(cond bool, format string, args ...any) error {
		if !cond {
			return fmt.Errorf(format, args...)
		}
		return nil
	}

	step(model.FnRegisterDepartment, func() error {
		for _, d := range []model.Department{
			{ID: "edu", Name: "Education", MSPID: "EduMSP", Endpoints: []string{"https://edu.example"}, SigningKeys: []model.SigningKey{{KID: "k1", PublicKeyPEM: pub}}},
			{ID: "hr", Name: "HR", MSPID: "HrMSP", Endpoints: []string{"https://hr.example"}},
		} {
			if _, err := admin.RegisterDepartment(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	step(model.FnUpdateDepartment, func() error {
		d, err := admin.UpdateDepartment(ctx, model.Department{ID: "hr", Name: "Human Resources", MSPID: "HrMSP", Endpoints: []string{"https://hr.example/v2"}})
		if err != nil {
			return err
		}
		return expect(d.Name == "Human Resources", "updated %+v", d)
	})
	step(model.FnSetDepartmentStatus, func() error {
		d, err := admin.SetDepartmentStatus(ctx, "hr", model.DepartmentSuspended, "audit")
		if err != nil {
			return err
		}
		if d.Status != model.DepartmentSuspended {
			return fmt.Errorf("status %s", d.Status)
		}
		_, err = admin.SetDepartmentStatus(ctx, "hr", model.DepartmentActive, "audit done")
		return err
	})
	step(model.FnGetDepartment, func() error {
		d, err := edu.GetDepartment(ctx, "hr")
		if err != nil {
			return err
		}
		return expect(d.Status == model.DepartmentActive, "department %+v", d)
	})
	step(model.FnListDepartments, func() error {
		ds, err := agent.ListDepartments(ctx)
		return expect(err == nil && len(ds) == 2, "departments %v %v", ds, err)
	})
	step(model.FnRegisterDataType, func() error {
		_, err := admin.RegisterDataType(ctx, model.DataType{Code: "edu.degree", Name: "学位", Schema: `{"type":"object"}`, Owners: []string{"edu"}})
		return err
	})
	step(model.FnUpdateDataType, func() error {
		dt, err := admin.UpdateDataType(ctx, model.DataType{Code: "edu.degree", Name: "学位证书", NameEN: "Degree", Schema: `{"type":"object"}`, Owners: []string{"edu"}})
		return expect(err == nil && dt.NameEN == "Degree", "data type %+v %v", dt, err)
	})
	step(model.FnGetDataType, func() error {
		dt, err := edu.GetDataType(ctx, "edu.degree")
		return expect(err == nil && dt.Name == "学位证书", "data type %+v %v", dt, err)
	})
	step(model.FnListDataTypes, func() error {
		dts, err := agent.ListDataTypes(ctx)
		return expect(err == nil && len(dts) == 1, "data types %v %v", dts, err)
	})
	step(model.FnCreateEID, func() error {
		id, err := agent.CreateEID(ctx, []model.BlindedIndex{blind("alice-card")})
		if err != nil {
			return err
		}
		eid = id.ID
		return expect(model.ValidDID(eid) && id.Status == model.EIDActive, "eid %+v", id)
	})
	step(model.FnCreateEIDs, func() error {
		out, err := agent.CreateEIDs(ctx, []model.EIDRequest{
			{Ref: "r1", Indexes: []model.BlindedIndex{blind("bob-card")}},
			{Ref: "r2", Indexes: []model.BlindedIndex{blind("alice-card")}},
		})
		if err != nil {
			return err
		}
		other = out[0].EID
		return expect(out[0].Outcome == "created" && out[1].Outcome == "exists" && out[1].EID == eid, "outcomes %+v", out)
	})
	step(model.FnAddDocumentIndex, func() error {
		id, err := agent.AddDocumentIndex(ctx, eid, blind("alice-passport"))
		return expect(err == nil && len(id.Indexes) == 2, "indexes %+v %v", id, err)
	})
	step(model.FnLookupIndex, func() error {
		got, err := agent.LookupIndex(ctx, blind("alice-passport"))
		return expect(err == nil && got == eid, "lookup %q %v", got, err)
	})
	step(model.FnRemoveDocumentIndex, func() error {
		id, err := agent.RemoveDocumentIndex(ctx, eid, blind("alice-passport"))
		return expect(err == nil && len(id.Indexes) == 1, "indexes %+v %v", id, err)
	})
	step(model.FnGetEID, func() error {
		id, err := agent.GetEID(ctx, eid)
		return expect(err == nil && id.ID == eid, "eid %+v %v", id, err)
	})
	step(model.FnResolveDID, func() error {
		res, err := edu.ResolveDID(ctx, eid)
		return expect(err == nil && res.DIDDocument.ID == eid && !res.DIDDocumentMetadata.Deactivated, "resolution %+v %v", res, err)
	})
	step(model.FnLinkAccount, func() error {
		l, err := edu.LinkAccount(ctx, eid, "edu", strings.Repeat("ab", 32))
		return expect(err == nil && l.Department == "edu", "link %+v %v", l, err)
	})
	step(model.FnLookupAccount, func() error {
		got, err := edu.LookupAccount(ctx, "edu", strings.Repeat("ab", 32))
		return expect(err == nil && got == eid, "account %q %v", got, err)
	})
	step(model.FnListLinks, func() error {
		ls, err := agent.ListLinks(ctx, eid)
		return expect(err == nil && len(ls) == 1, "links %v %v", ls, err)
	})
	step(model.FnUnlinkAccount, func() error {
		if err := agent.UnlinkAccount(ctx, eid, "edu"); err != nil {
			return err
		}
		ls, err := agent.ListLinks(ctx, eid)
		return expect(err == nil && len(ls) == 0, "links after unlink %v %v", ls, err)
	})

	stmt := func(version uint64, digest string) model.SignedRoute {
		s, err := model.SignRoute(key, "k1", model.RouteStatement{EID: eid, DataType: "edu.degree", Provider: "edu", Version: version, Digest: "sha256:" + digest, Schema: "edu.degree/1"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	step(model.FnPublishRoute, func() error {
		e, err := edu.PublishRoute(ctx, stmt(1, strings.Repeat("1", 64)))
		return expect(err == nil && e.Status == model.RouteValid, "route %+v %v", e, err)
	})
	step(model.FnPublishRoutes, func() error {
		out, err := agent.PublishRoutes(ctx, []model.SignedRoute{stmt(2, strings.Repeat("2", 64))})
		return expect(err == nil && len(out) == 1, "outcomes %v %v", out, err)
	})
	step(model.FnGetRoutes, func() error {
		rs, err := agent.GetRoutes(ctx, eid, "edu.degree")
		return expect(err == nil && len(rs) == 1 && rs[0].Version == 2, "routes %+v %v", rs, err)
	})
	step(model.FnRevokeRoute, func() error {
		e, err := edu.RevokeRoute(ctx, eid, "edu.degree", "edu", "superseded")
		return expect(err == nil && e.Status != model.RouteValid, "revoked %+v %v", e, err)
	})
	step(model.FnGetRouteHistory, func() error {
		h, err := agent.GetRouteHistory(ctx, eid, "edu.degree", "edu")
		return expect(err == nil && len(h) == 3, "history %d entries %v", len(h), err)
	})

	now := time.Now().UTC()
	request := func() *model.Consent {
		c, err := agent.RequestConsent(ctx, model.ConsentRequest{EID: eid, Requester: "hr", Provider: "*", DataTypes: []string{"edu.degree"},
			PurposeCode: "employment", ValidFrom: now.Add(-time.Minute).Format(time.RFC3339), ValidUntil: now.Add(time.Hour).Format(time.RFC3339), MaxUses: 5})
		if err != nil {
			t.Fatalf("RequestConsent: %v", err)
		}
		return c
	}
	step(model.FnRequestConsent, func() error {
		c := request()
		consentID = c.ID
		return expect(c.Status == model.ConsentRequested, "consent %+v", c)
	})
	step(model.FnGrantConsent, func() error {
		c, err := agent.GrantConsent(ctx, consentID, "portal")
		return expect(err == nil && c.Status == model.ConsentActive, "granted %+v %v", c, err)
	})
	var ruleID string
	step(model.FnCreateStandingRule, func() error {
		r, err := agent.CreateStandingRule(ctx, model.RuleDraft{EID: eid, Departments: []string{"hr"}, DataTypes: []string{"edu.degree"},
			PurposeCode: "employment", ValidUntil: now.Add(time.Hour).Format(time.RFC3339), MaxUses: 2})
		if err != nil {
			return err
		}
		ruleID = r.ID
		return expect(r.Status == "active" && r.EID == eid, "rule %+v", r)
	})
	step(model.FnListStandingRulesByEID, func() error {
		rs, err := agent.ListStandingRulesByEID(ctx, eid)
		return expect(err == nil && len(rs) == 1 && rs[0].ID == ruleID, "rules %+v %v", rs, err)
	})
	step(model.FnGetStandingRule, func() error {
		r, err := agent.GetStandingRule(ctx, ruleID)
		return expect(err == nil && r.ID == ruleID, "rule %+v %v", r, err)
	})
	step(model.FnRevokeStandingRule, func() error {
		r, err := agent.RevokeStandingRule(ctx, ruleID)
		return expect(err == nil && r.Status != "active", "revoked rule %+v %v", r, err)
	})
	step(model.FnDenyConsent, func() error {
		c, err := agent.DenyConsent(ctx, request().ID, "portal")
		return expect(err == nil && c.Status == model.ConsentDenied, "denied %+v %v", c, err)
	})
	step(model.FnGetConsent, func() error {
		c, err := agent.GetConsent(ctx, consentID)
		return expect(err == nil && c.ID == consentID, "consent %+v %v", c, err)
	})
	step(model.FnListConsentsByEID, func() error {
		cs, err := agent.ListConsentsByEID(ctx, eid)
		return expect(err == nil && len(cs) == 2, "consents %d %v", len(cs), err)
	})
	step(model.FnListConsentsByRequester, func() error {
		cs, err := agent.ListConsentsByRequester(ctx, "hr")
		return expect(err == nil && len(cs) == 2, "consents %d %v", len(cs), err)
	})
	step(model.FnAnchorAccessBatch, func() error {
		a := model.AccessAnchor{BatchID: "ab-1-2", MerkleRoot: strings.Repeat("c", 64), Count: 2, FirstSeq: 1, LastSeq: 2,
			ConsentUses: []model.ConsentUse{{ConsentID: consentID, Uses: 2}}}
		got, block, err := agent.AnchorAccessBatch(ctx, a)
		if err != nil {
			return err
		}
		again, _, err := agent.AnchorAccessBatch(ctx, a) // idempotent
		if err != nil {
			return err
		}
		c, _ := agent.GetConsent(ctx, consentID)
		return expect(block > 0 && again.TxID == got.TxID && c.Uses == 2, "anchor %+v block %d, uses %d", got, block, c.Uses)
	})
	step(model.FnGetAnchor, func() error {
		a, err := agent.GetAnchor(ctx, "ab-1-2")
		return expect(err == nil && a.Count == 2, "anchor %+v %v", a, err)
	})
	step(model.FnAnchorStatusList, func() error {
		a := model.StatusListAnchor{Issuer: "edu", ListID: "r1", Purpose: model.StatusRevocation, Version: 1,
			Digest: model.DigestPrefix + strings.Repeat("d", 64), Size: model.MinStatusListSize}
		got, err := edu.AnchorStatusList(ctx, a) // the issuing department itself
		return expect(err == nil && got.TxID != "" && got.Submitter != "", "status list anchor %+v %v", got, err)
	})
	step(model.FnGetStatusListAnchor, func() error {
		a, err := edu.GetStatusListAnchor(ctx, "edu", "r1")
		return expect(err == nil && a.Version == 1 && a.Purpose == model.StatusRevocation, "status list anchor %+v %v", a, err)
	})
	step(model.FnRevokeConsent, func() error {
		c, err := agent.RevokeConsent(ctx, consentID)
		return expect(err == nil && c.Status == model.ConsentRevoked, "revoked %+v %v", c, err)
	})
	step(model.FnExpireConsents, func() error {
		// Nothing is past its validity yet: no consent changes.
		ids, err := agent.ExpireConsents(ctx, []string{consentID})
		return expect(err == nil && len(ids) == 0, "expired %v %v", ids, err)
	})
	cred := passkeytest.New(passkeytest.ES256, []byte("alice"))
	var signed *model.Consent
	sign := func(kind string, c *model.Consent) model.PasskeyApproval {
		nonce := "AAECAwQFBgcICQoLDA0ODw"
		d, err := model.ConsentStatement(kind, *c, eid, nonce).Digest()
		if err != nil {
			t.Fatal(err)
		}
		return cred.Assert("localhost", "http://localhost:8080", d[:], passkeytest.Options{}).Approval(model.PasskeyMethodID(eid, cred.KeyID()), nonce)
	}
	step(model.FnRegisterPasskey, func() error {
		pk, err := agent.RegisterPasskey(ctx, model.PasskeyRegistration{EID: eid, CredentialID: cred.IDString(), PublicKeyJWK: cred.JWK(), RPID: "localhost"})
		return expect(err == nil && pk.KeyID() == cred.KeyID() && pk.Status == model.PasskeyActive, "passkey %+v %v", pk, err)
	})
	step(model.FnListPasskeys, func() error {
		ks, err := edu.ListPasskeys(ctx, eid)
		return expect(err == nil && len(ks) == 1 && ks[0].PublicKeyJWK == cred.JWK(), "passkeys %+v %v", ks, err)
	})
	step(model.FnGrantConsentSigned, func() error {
		signed = request()
		c, err := agent.GrantConsentSigned(ctx, signed.ID, sign(model.StatementConsentGrant, signed))
		return expect(err == nil && c.GrantAssurance == model.AssurancePasskey && c.GrantSignature != nil, "signed grant %+v %v", c, err)
	})
	// A signature over other terms keeps its kind through the client.
	if _, err := agent.RevokeConsentSigned(ctx, signed.ID, sign(model.StatementConsentGrant, signed)); routing.KindOf(err) != routing.KindInvalid {
		t.Fatalf("a grant's signature revoked: %v", err)
	}
	step(model.FnRevokeConsentSigned, func() error {
		c, err := agent.RevokeConsentSigned(ctx, signed.ID, sign(model.StatementConsentRevoke, signed))
		return expect(err == nil && c.RevokeAssurance == model.AssurancePasskey && c.Status == model.ConsentRevoked, "signed revocation %+v %v", c, err)
	})
	signRule := func(kind string, r model.StandingRule) model.PasskeyApproval {
		nonce := "AAECAwQFBgcICQoLDA0ODw"
		d, err := model.RuleStatement(kind, r, eid, nonce).Digest()
		if err != nil {
			t.Fatal(err)
		}
		return cred.Assert("localhost", "http://localhost:8080", d[:], passkeytest.Options{}).Approval(model.PasskeyMethodID(eid, cred.KeyID()), nonce)
	}
	var signedRule *model.StandingRule
	step(model.FnCreateStandingRuleSigned, func() error {
		d := model.RuleDraft{EID: eid, Roles: []string{"employer-hr"}, DataTypes: []string{"edu.degree"}, PurposeCode: "employment",
			ValidFrom: now.Format(time.RFC3339), ValidUntil: now.Add(time.Hour).Format(time.RFC3339)}
		var err error
		signedRule, err = agent.CreateStandingRuleSigned(ctx, d, signRule(model.StatementRuleCreate, model.StandingRule{EID: eid,
			Roles: d.Roles, DataTypes: d.DataTypes, PurposeCode: d.PurposeCode, ValidFrom: d.ValidFrom, ValidUntil: d.ValidUntil}))
		return expect(err == nil && signedRule.Assurance == model.AssurancePasskey && signedRule.Signature != nil, "signed rule %+v %v", signedRule, err)
	})
	step(model.FnRevokeStandingRuleSigned, func() error {
		r, err := agent.RevokeStandingRuleSigned(ctx, signedRule.ID, signRule(model.StatementRuleRevoke, *signedRule))
		return expect(err == nil && r.RevokeAssurance == model.AssurancePasskey && r.Status == model.RuleRevoked, "signed rule revocation %+v %v", r, err)
	})
	step(model.FnRetirePasskeys, func() error {
		ks, err := agent.RetirePasskeys(ctx, eid, nil, "lost")
		return expect(err == nil && len(ks) == 1 && ks[0].Status == model.PasskeyRetired, "retired %+v %v", ks, err)
	})
	var rep *model.Representation
	step(model.FnRegisterRepresentation, func() error {
		var err error
		rep, err = agent.RegisterRepresentation(ctx, model.RepresentationDraft{Ward: eid, Guardian: other, Kind: model.RepresentationGuardian,
			Evidence:   model.RepresentationEvidence{Kind: "court_order", HashedRef: "v1:" + strings.Repeat("d", 64), MaskedRef: "C1****9"},
			ValidUntil: now.Add(time.Hour).Format(time.RFC3339), Officer: "officer.li"})
		return expect(err == nil && rep.Status == model.RepresentationActive, "relation %+v %v", rep, err)
	})
	if _, err := agent.RegisterRepresentation(ctx, model.RepresentationDraft{Ward: eid, Guardian: eid, Kind: model.RepresentationGuardian,
		Evidence: rep.Evidence, ValidUntil: now.Add(time.Hour).Format(time.RFC3339), Officer: "officer.li"}); routing.KindOf(err) != routing.KindConflict {
		t.Fatalf("a relation to oneself: %v", err)
	}
	step(model.FnGetRepresentation, func() error {
		r, err := agent.GetRepresentation(ctx, rep.ID)
		return expect(err == nil && r.Guardian == other, "relation %+v %v", r, err)
	})
	step(model.FnListRepresentationsByWard, func() error {
		rs, err := agent.ListRepresentationsByWard(ctx, eid)
		return expect(err == nil && len(rs) == 1, "relations %+v %v", rs, err)
	})
	step(model.FnListRepresentationsByGuardian, func() error {
		rs, err := agent.ListRepresentationsByGuardian(ctx, other)
		return expect(err == nil && len(rs) == 1, "relations %+v %v", rs, err)
	})
	step(model.FnDenyConsentForWard, func() error {
		c, err := agent.DenyConsentForWard(ctx, request().ID, rep.ID, other)
		return expect(err == nil && c.DecidedByGuardian == other && c.DecidedUnder == rep.ID, "denied %+v %v", c, err)
	})
	step(model.FnEndRepresentation, func() error {
		r, err := agent.EndRepresentation(ctx, rep.ID, "custody transferred", "officer.li")
		return expect(err == nil && r.Status == model.RepresentationEnded, "ended %+v %v", r, err)
	})
	if _, err := agent.DenyConsentForWard(ctx, request().ID, rep.ID, other); routing.KindOf(err) != routing.KindForbidden {
		t.Fatalf("denied under an ended relation: %v", err)
	}
	var dispute *model.Dispute
	step(model.FnRaiseDispute, func() error {
		var err error
		dispute, err = agent.RaiseDispute(ctx, model.DisputeDraft{AccessID: "acc_" + strings.Repeat("d", 32), EID: eid, Department: "edu",
			BatchID: "ab-1-2", LeafHash: strings.Repeat("e", 64), Reason: "unexpected", TextDigest: strings.Repeat("f", 64)})
		return expect(err == nil && dispute.Status == model.DisputeOpen && dispute.BatchID == "ab-1-2", "dispute %+v %v", dispute, err)
	})
	if _, err := agent.RaiseDispute(ctx, model.DisputeDraft{AccessID: "acc_" + strings.Repeat("d", 32), EID: eid, Department: "edu",
		BatchID: "ab-1-2", LeafHash: strings.Repeat("e", 64), Reason: "other"}); routing.KindOf(err) != routing.KindConflict {
		t.Fatalf("a second open dispute of one access: %v", err)
	}
	step(model.FnAnswerDispute, func() error {
		d, err := agent.AnswerDispute(ctx, model.DisputeAnswer{ID: dispute.ID, Department: "edu", Official: "official-1", AnswerDigest: strings.Repeat("1", 64)})
		return expect(err == nil && d.Status == model.DisputeAnswered, "answered %+v %v", d, err)
	})
	step(model.FnCloseDispute, func() error {
		d, err := agent.CloseDispute(ctx, model.DisputeClosing{ID: dispute.ID, Outcome: model.DisputeDismissed, Official: "official-2", OutcomeDigest: strings.Repeat("2", 64)})
		return expect(err == nil && d.Status == model.DisputeClosed && d.Outcome == model.DisputeDismissed, "closed %+v %v", d, err)
	})
	step(model.FnGetDispute, func() error {
		d, err := agent.GetDispute(ctx, dispute.ID)
		return expect(err == nil && d.AccessID == dispute.AccessID, "dispute %+v %v", d, err)
	})
	step(model.FnListDisputesByEID, func() error {
		ds, err := agent.ListDisputesByEID(ctx, eid)
		return expect(err == nil && len(ds) == 1 && ds[0].ID == dispute.ID, "disputes %+v %v", ds, err)
	})
	step(model.FnListDisputesByDepartment, func() error {
		ds, err := edu.ListDisputesByDepartment(ctx, "edu")
		return expect(err == nil && len(ds) == 1 && ds[0].ID == dispute.ID, "disputes %+v %v", ds, err)
	})
	step(model.FnMergeEID, func() error {
		id, err := agent.MergeEID(ctx, other, eid, "duplicate registration")
		if err != nil {
			return err
		}
		got, err := agent.LookupIndex(ctx, blind("bob-card"))
		return expect(err == nil && got == eid && slices.Contains(id.MergedFrom, other), "merged %+v lookup %q %v", id, got, err)
	})
	step(model.FnDeactivateEID, func() error {
		id, err := agent.DeactivateEID(ctx, eid, "deceased")
		if err != nil {
			return err
		}
		res, err := edu.ResolveDID(ctx, eid)
		return expect(err == nil && id.Status == model.EIDDeactivated && res.DIDDocumentMetadata.Deactivated, "deactivated %+v %+v %v", id, res, err)
	})

	step(model.FnRevokeSigningKey, func() error {
		d, err := edu.RevokeSigningKey(ctx, "edu", "k1", "key file leaked")
		if err != nil {
			return err
		}
		res, err := agent.ResolveDID(ctx, model.IssuerDID("edu"))
		return expect(err == nil && d.SigningKeys[0].Status == model.KeyRevoked && res.DIDDocument.VerificationMethod[0].Revoked != "",
			"revoked key %+v %+v %v", d.SigningKeys, res, err)
	})

	// Refusals keep their kinds through the real client.
	if _, err := edu.GetConsent(ctx, consentID); routing.KindOf(err) != routing.KindForbidden {
		t.Fatalf("a non-party department read a consent: %v", err)
	}
	if _, err := agent.GetEID(ctx, "did:eidgate:"+strings.Repeat("0", 32)); routing.KindOf(err) != routing.KindNotFound {
		t.Fatalf("unknown eID: %v", err)
	}

	// Every function the contract defines was called.
	fns := reflect.TypeOf(&chaincode.Contract{})
	for i := range fns.NumMethod() {
		name := fns.Method(i).Name
		if strings.HasPrefix(name, "Get") && (name == "GetName" || name == "GetInfo" || strings.HasSuffix(name, "Transactions") || name == "GetUnknownTransaction" || name == "GetBeforeTransaction" || name == "GetAfterTransaction" || name == "GetTransactionContextHandler") {
			continue
		}
		if !called[name] {
			t.Errorf("contract function %s has no case in this test", name)
		}
	}
}
