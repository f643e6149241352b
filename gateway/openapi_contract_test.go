package gateway_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

const (
	get  = http.MethodGet
	post = http.MethodPost
	put  = http.MethodPut
	del  = http.MethodDelete
)

var consentIDPattern = regexp.MustCompile(`^cs-[0-9a-f]{24}$`)

// TestAPIConformsToOpenAPI drives every operation of the API through the
// real server (over TLS, departments with API keys and client
// certificates, residents and administrators with browser sessions) along
// the flows a user follows, and requires that every exchange matches
// openapi.yaml and that every operation was exercised and answered with
// success at least once.
func TestAPIConformsToOpenAPI(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	hr := w.department(w.hrToken)
	edu := w.provider()
	anon := w.anonymous()

	// --- public ---
	if got := anon.call(get, "/healthz", nil, http.StatusOK).field("status"); got != "ok" {
		t.Errorf("healthz status = %q", got)
	}
	var ready struct {
		Ready  bool            `json:"ready"`
		Checks []gateway.Check `json:"checks"`
	}
	anon.call(get, "/readyz", nil, http.StatusOK).decode(&ready)
	if !ready.Ready {
		t.Errorf("ready.Ready is false; readyz = %+v, want ready with database, ledger and anchoring checks", ready)
	} else if len(ready.Checks) != 3 {
		t.Errorf("len(ready.Checks) = %v, want 3; readyz = %+v, want ready with database, ledger and anchoring checks", len(ready.Checks), ready)
	} else if ready.Checks[2].Name != "anchoring" {
		t.Errorf("ready.Checks[2].Name = %q, want \"anchoring\"; readyz = %+v, want ready with database, ledger and anchoring checks", ready.Checks[2].Name, ready)
	}
	if m := anon.call(get, "/metrics", nil, http.StatusOK); !bytes.Contains(m.body, []byte("eidgate_http_requests_total")) {
		t.Error("metrics lack eidgate_http_requests_total")
	} else if !bytes.Contains(m.body, []byte("eidgate_anchor_batches ")) || !bytes.Contains(m.body, []byte("eidgate_anchored_records ")) {
		t.Error("metrics lack the anchoring counts (eidgate_anchor_batches, eidgate_anchored_records)")
	} else if !bytes.Contains(m.body, []byte("eidgate_password_hashes_promoted_total ")) {
		t.Error("metrics lack eidgate_password_hashes_promoted_total")
	}
	if spec := anon.call(get, "/openapi.yaml", nil, http.StatusOK); !bytes.Equal(spec.body, gateway.OpenAPISpec()) {
		t.Error("/openapi.yaml does not serve the embedded document")
	}
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	anon.call(get, "/.well-known/jwks.json", nil, http.StatusOK).decode(&jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != w.tickets.ActiveKeyID() || jwks.Keys[0]["d"] != "" {
		t.Errorf("jwks = %v, want the one public ticket key", jwks.Keys)
	}
	var did struct {
		Doc struct {
			ID string `json:"id"`
		} `json:"didDocument"`
	}
	anon.call(get, "/1.0/identifiers/"+w.alice, nil, http.StatusOK).decode(&did)
	if did.Doc.ID != w.alice {
		t.Errorf("DID document id = %q, want %s", did.Doc.ID, w.alice)
	}
	anon.call(get, "/1.0/identifiers/did:eidgate:not-hex", nil, http.StatusBadRequest)
	anon.call(get, "/1.0/identifiers/did:eidgate:"+strings.Repeat("0", 32), nil, http.StatusNotFound)

	// --- the provider publishes and revokes digests with its certificate ---
	transcript, err := model.SignRoute(w.eduKey, "edu-2026", model.RouteStatement{EID: w.alice, DataType: "edu.transcript",
		Provider: eduBureau, Version: 1, Digest: "sha256:" + strings.Repeat("ab", 32), Schema: "edu.transcript/1"})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes struct {
		Outcomes []model.RouteOutcome `json:"outcomes"`
	}
	edu.call(post, "/v1/routes", map[string]any{"routes": []model.SignedRoute{transcript}}, http.StatusOK).decode(&outcomes)
	if len(outcomes.Outcomes) != 1 {
		t.Errorf("len(outcomes.Outcomes) = %v, want 1; publish outcomes = %+v", len(outcomes.Outcomes), outcomes.Outcomes)
	} else if outcomes.Outcomes[0].Outcome != model.OutcomePublished {
		t.Errorf("outcomes.Outcomes[0].Outcome = %v, want model.OutcomePublished; publish outcomes = %+v", outcomes.Outcomes[0].Outcome, outcomes.Outcomes)
	}
	edu.call(post, "/v1/routes", map[string]any{"routes": []model.SignedRoute{transcript}}, http.StatusOK).decode(&outcomes)
	if outcomes.Outcomes[0].Outcome != model.OutcomeUnchanged {
		t.Errorf("republishing gave %q, want unchanged", outcomes.Outcomes[0].Outcome)
	}
	revoked := edu.call(post, "/v1/routes/revoke", map[string]string{"eid": w.alice, "data_type": "edu.transcript", "reason": "record corrected"}, http.StatusOK)
	if revoked.field("status") != model.RouteRevoked {
		t.Errorf("revoked entry: %s", revoked.body)
	}

	// --- resolve without consent: a request waits for the resident ---
	resolveByDoc := map[string]any{"subject": map[string]any{"document": w.aliceDoc}, "data_type": "edu.degree",
		"purpose": purpose, "purpose_text": "Pre-employment degree check"}
	e := hr.call(post, "/v1/routes/resolve", resolveByDoc, http.StatusForbidden).apiError()
	consentID := e.Details["consent_id"]
	if e.Code != "consent_required" {
		t.Fatalf("e.Code = %q, want \"consent_required\"; resolve without consent = %+v, want consent_required naming the request", e.Code, e)
	}
	if !consentIDPattern.MatchString(consentID) {
		t.Fatalf("consentIDPattern.MatchString(consentID) is false; resolve without consent = %+v, want consent_required naming the request", e)
	}
	if e.Details["consent_status"] != model.ConsentRequested {
		t.Fatalf("e.Details[\"consent_status\"] = %v, want model.ConsentRequested; resolve without consent = %+v, want consent_required naming the request", e.Details["consent_status"], e)
	}
	if got := hr.call(get, "/v1/consents/"+consentID, nil, http.StatusOK).field("status"); got != model.ConsentRequested {
		t.Errorf("consent status = %q, want requested", got)
	}
	if l := hr.call(get, "/v1/consents", nil, http.StatusOK); !bytes.Contains(l.body, []byte(consentID)) {
		t.Errorf("the department's consents lack %s", consentID)
	}

	// --- the resident activates the account and grants ---
	code := w.activationCode(w.alice)
	alice := w.signIn("/v1/me/activate", map[string]any{"document": w.aliceDoc, "code": code, "password": "a long passphrase"})
	me := alice.call(get, "/v1/me", nil, http.StatusOK)
	if me.field("eid") != w.alice || bytes.Contains(me.body, []byte(w.aliceDoc.Number)) {
		t.Errorf("/v1/me = %s, want the eID and no full document number", me.body)
	}
	if got := alice.call(put, "/v1/me/lang", map[string]string{"lang": "en"}, http.StatusOK).field("lang"); got != "en" {
		t.Errorf("lang = %q", got)
	}
	if l := alice.call(get, "/v1/me/consents", nil, http.StatusOK); !bytes.Contains(l.body, []byte(consentID)) {
		t.Errorf("the resident's consents lack %s", consentID)
	}
	// The resident registers a passkey and grants with its signature.
	alice.call(get, "/v1/me/passkeys", nil, http.StatusOK)
	aliceKey := registerPasskey(t, alice, "/v1/me", passkeytest.ES256)
	if granted := signConsent(t, alice, aliceKey, consentID, "grant"); granted.field("status") != model.ConsentActive ||
		granted.field("grant_assurance") != model.AssurancePasskey {
		t.Errorf("granted consent = %s", granted.body)
	}
	aliceProof := alice.call(get, "/v1/me/consents/"+consentID+"/proof", nil, http.StatusOK)
	var verified approval.Report
	anon.call(post, "/v1/consent-proofs/verify", aliceProof.body, http.StatusOK).decode(&verified)
	if !verified.Valid {
		t.Errorf("verified.Valid is false; proof report = %+v", verified)
	} else if !verified.SignedByResident {
		t.Errorf("verified.SignedByResident is false; proof report = %+v", verified)
	} else if !verified.Ledger.Matches {
		t.Errorf("verified.Ledger.Matches is false; proof report = %+v", verified)
	}
	hr.call(get, "/v1/consents/"+consentID+"/proof", nil, http.StatusOK)
	alice = passkeySignIn(t, w, "/v1/me", aliceKey)
	if l := alice.call(get, "/v1/me/routes", nil, http.StatusOK); !bytes.Contains(l.body, []byte(`"edu.degree"`)) {
		t.Errorf("the resident's routes lack edu.degree: %s", l.body)
	}

	// --- resolve: a ticket for the provider ---
	resolveByEID := map[string]any{"subject": map[string]string{"eid": w.alice}, "data_type": "edu.degree", "purpose": purpose}
	var res routing.ResolveResult
	hr.call(post, "/v1/routes/resolve", resolveByEID, http.StatusOK).decode(&res)
	if res.Provider.ID != eduBureau {
		t.Fatalf("res.Provider.ID = %v, want eduBureau; resolve = %+v", res.Provider.ID, res)
	}
	if res.ConsentID != consentID {
		t.Fatalf("res.ConsentID = %v, want consentID; resolve = %+v", res.ConsentID, res)
	}
	if res.Ticket == "" {
		t.Fatalf("res.Ticket == \"\", want it different; resolve = %+v", res)
	}
	var intro map[string]any
	edu.call(post, "/v1/tickets/introspect", map[string]string{"token": res.Ticket}, http.StatusOK).decode(&intro)
	if intro["active"] != true || intro["aud"] != eduBureau || intro["sub"] != w.alice || intro["aid"] != res.AccessID {
		t.Errorf("introspection = %v", intro)
	}
	intro = nil
	edu.call(post, "/v1/tickets/introspect", map[string]string{"token": res.Ticket}, http.StatusOK).decode(&intro)
	if intro["active"] != false || len(intro) != 1 {
		t.Errorf("second introspection = %v, want {active:false}", intro)
	}
	proxied := hr.call(post, "/v1/routes/resolve", map[string]any{"subject": map[string]string{"eid": w.alice},
		"data_type": "edu.degree", "purpose": purpose, "mode": "proxy"}, http.StatusOK)
	if !bytes.Contains(proxied.body, []byte("Peking University")) {
		t.Errorf("proxy mode answer lacks the record: %s", proxied.body)
	}
	var ver routing.Verification
	hr.call(post, "/v1/verify", routing.RecordEnvelope{EID: w.alice, DataType: "edu.degree", Provider: eduBureau, Version: 1,
		Salt: w.aliceSalt, Record: w.aliceRecord}, http.StatusOK).decode(&ver)
	if !ver.Valid {
		t.Errorf("ver.Valid is false; verification = %+v", ver)
	} else if !ver.SignatureValid {
		t.Errorf("ver.SignatureValid is false; verification = %+v", ver)
	}
	var ex struct {
		Allowed      bool   `json:"allowed"`
		ConsentState string `json:"consent_state"`
	}
	hr.call(post, "/v1/policy/explain", map[string]any{"data_type": "edu.degree", "purpose": purpose,
		"subject": map[string]string{"eid": w.alice}}, http.StatusOK).decode(&ex)
	if !ex.Allowed {
		t.Errorf("ex.Allowed is false; explain = %+v", ex)
	} else if ex.ConsentState != "active" {
		t.Errorf("ex.ConsentState = %q, want \"active\"; explain = %+v", ex.ConsentState, ex)
	}
	var access struct {
		Access []struct {
			ID       string `json:"id"`
			Outcome  string `json:"outcome"`
			Official string `json:"official"`
		} `json:"access"`
	}
	hr.call(get, "/v1/access?limit=10&data_type=edu.degree&from=2026-03-01T00:00:00Z", nil, http.StatusOK).decode(&access)
	if len(access.Access) != 3 {
		t.Errorf("len(access.Access) = %v, want 3; department access = %+v, want the three resolves, newest first, with the official", len(access.Access), access.Access)
	} else if access.Access[0].Outcome != routing.OutcomeIssued {
		t.Errorf("access.Access[0].Outcome = %v, want routing.OutcomeIssued; department access = %+v, want the three resolves, newest first, with the official", access.Access[0].Outcome, access.Access)
	} else if access.Access[0].Official != "zhang.wei" {
		t.Errorf("access.Access[0].Official = %q, want \"zhang.wei\"; department access = %+v, want the three resolves, newest first, with the official", access.Access[0].Official, access.Access)
	}

	// --- account links ---
	hr.call(post, "/v1/accounts/link", map[string]any{"local_account": "HR-2026-0042", "document": w.aliceDoc}, http.StatusOK)
	if got := hr.call(post, "/v1/accounts/lookup", map[string]string{"local_account": "HR-2026-0042"}, http.StatusOK).field("eid"); got != w.alice {
		t.Errorf("lookup = %q, want %s", got, w.alice)
	}
	hr.call(post, "/v1/accounts/unlink", map[string]string{"eid": w.alice}, http.StatusOK)

	// --- an explicit consent request, denied ---
	c2 := hr.call(post, "/v1/consents", map[string]any{"eid": w.alice, "provider": eduBureau, "data_types": []string{"edu.transcript"},
		"purpose_code": purpose, "purpose_text": "Transcript for the hiring panel",
		"valid_until": w.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339), "max_uses": 3}, http.StatusCreated).field("id")
	if got := alice.call(post, "/v1/me/consents/"+c2+"/deny", nil, http.StatusOK).field("status"); got != model.ConsentDenied {
		t.Errorf("denied consent status = %q", got)
	}
	// No pestering: asked again at once, the department is told when it
	// may ask next, and nothing reaches the resident's inbox.
	again := map[string]any{"eid": w.alice, "data_types": []string{"edu.transcript"}, "purpose_code": purpose,
		"purpose_text": "Transcript for the hiring panel", "valid_until": w.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)}
	if e := hr.call(post, "/v1/consents", again, http.StatusForbidden).apiError(); e.Code != "consent_denied" || e.Details["retry_after"] == "" {
		t.Errorf("asking again after a denial = %+v", e)
	}
	again["purpose_text"] = ""
	if e := hr.call(post, "/v1/consents", again, http.StatusBadRequest).apiError(); e.Field != "purpose_text" {
		t.Errorf("a request without purpose_text = %+v", e)
	}
	again["purpose_text"], again["purpose_code"] = "Offers", "marketing"
	if e := hr.call(post, "/v1/consents", again, http.StatusForbidden).apiError(); e.Code != "policy_denied" {
		t.Errorf("a request the policy never allows = %+v", e)
	}

	// --- anchoring, and the resident's proof ---
	w.anchorer.Step(ctx)
	alice.call(get, "/v1/me/access?outcome=issued", nil, http.StatusOK).decode(&access)
	if len(access.Access) != 2 {
		t.Fatalf("len(access.Access) = %v, want 2; resident access = %+v, want two issued records with a pseudonymous official", len(access.Access), access.Access)
	}
	if !strings.HasPrefix(access.Access[0].Official, "official-") {
		t.Fatalf("strings.HasPrefix(access.Access[0].Official, \"official-\") is false; resident access = %+v, want two issued records with a pseudonymous official", access.Access)
	}
	var proof struct {
		Verified bool     `json:"verified"`
		Leaf     []string `json:"leaf_fields"`
	}
	alice.call(get, "/v1/me/access/"+access.Access[0].ID+"/proof", nil, http.StatusOK).decode(&proof)
	if !proof.Verified {
		t.Errorf("proof.Verified is false; proof = %+v", proof)
	} else if len(proof.Leaf) != 14 {
		t.Errorf("len(proof.Leaf) = %v, want 14; proof = %+v", len(proof.Leaf), proof)
	}

	// --- revocation stops resolves at once ---
	// (The resident asks for the statement to sign but revokes with the
	// session alone: the revocation is marked password-only.)
	signOptions(t, alice, consentID, "revoke")
	if rv := alice.call(post, "/v1/me/consents/"+consentID+"/revoke", nil, http.StatusOK); rv.field("status") != model.ConsentRevoked ||
		rv.field("revoke_assurance") != model.AssurancePassword {
		t.Errorf("revoked consent = %s", rv.body)
	}
	if e := hr.call(post, "/v1/routes/resolve", resolveByEID, http.StatusForbidden).apiError(); e.Code != "consent_revoked" || e.Details["retry_after"] == "" {
		t.Errorf("resolve after revocation = %+v", e)
	}

	// --- standing rules: approved in advance, used without a request ---
	ruleDraft := map[string]any{"departments": []string{hrBureau}, "data_types": []string{"edu.degree"}, "purpose_code": purpose,
		"note": "employers may check my degree", "valid_until": w.clock.Now().Add(90 * 24 * time.Hour).Format(time.RFC3339), "max_uses": 2}
	newRule := alice.call(post, "/v1/me/rules", ruleDraft, http.StatusCreated)
	ruleID := newRule.field("id")
	if !strings.HasPrefix(ruleID, "sr-") || newRule.field("status") != "active" {
		t.Fatalf("rule = %s", newRule.body)
	}
	byRule := hr.call(post, "/v1/routes/resolve", resolveByEID, http.StatusOK)
	if byRule.field("consent_id") != ruleID || byRule.field("ticket") == "" {
		t.Errorf("resolve under the rule = %s", byRule.body)
	}
	ruleDraft["purpose_code"] = "marketing"
	if e := alice.call(post, "/v1/me/rules", ruleDraft, http.StatusForbidden).apiError(); e.Code != "policy_denied" {
		t.Errorf("a rule the policy never allows = %+v", e)
	}
	var rules struct {
		Rules []struct {
			ID              string `json:"id"`
			EffectiveStatus string `json:"effective_status"`
		} `json:"rules"`
	}
	alice.call(get, "/v1/me/rules", nil, http.StatusOK).decode(&rules)
	if len(rules.Rules) != 1 || rules.Rules[0].ID != ruleID || rules.Rules[0].EffectiveStatus != "active" {
		t.Errorf("rules = %+v", rules.Rules)
	}
	if got := alice.call(post, "/v1/me/rules/"+ruleID+"/revoke", nil, http.StatusOK).field("status"); got != "revoked" {
		t.Errorf("revoked rule status = %q", got)
	}
	if e := alice.call(post, "/v1/me/rules/"+ruleID+"/revoke", nil, http.StatusConflict).apiError(); e.Code != "rule_state" {
		t.Errorf("revoking twice = %+v", e)
	}
	if e := hr.call(post, "/v1/routes/resolve", resolveByEID, http.StatusForbidden).apiError(); e.Code != "consent_revoked" {
		t.Errorf("resolve after the rule's revocation = %+v", e)
	}

	// --- the resident's time zone ---
	alice.call(http.MethodPut, "/v1/me/time-zone", map[string]any{"time_zone": "Asia/Tokyo"}, http.StatusOK)
	if e := alice.call(http.MethodPut, "/v1/me/time-zone", map[string]any{"time_zone": "Mars/Olympus"}, http.StatusBadRequest).apiError(); e.Code != "invalid_time_zone" || e.Field != "time_zone" {
		t.Errorf("unknown zone = %+v", e)
	}
	alice.call(http.MethodPut, "/v1/me/time-zone", map[string]any{"time_zone": ""}, http.StatusOK)

	// --- the same, signed with the resident's passkey ---
	ruleDraft["purpose_code"] = purpose
	var ruleCh struct {
		Options   requestOptions `json:"options"`
		Canonical string         `json:"canonical"`
	}
	alice.call(post, "/v1/me/rules/options", ruleDraft, http.StatusOK).decode(&ruleCh)
	if !strings.Contains(ruleCh.Canonical, `"type":"rule.create"`) {
		t.Errorf("rule statement = %s", ruleCh.Canonical)
	}
	signedRule := alice.call(post, "/v1/me/rules/signed", assertion(t, aliceKey, ruleCh.Options.PublicKey.Challenge, passkeytest.Options{}), http.StatusCreated)
	signedID := signedRule.field("id")
	if signedRule.field("assurance") != model.AssurancePasskey {
		t.Errorf("signed rule = %s", signedRule.body)
	}
	alice.call(post, "/v1/me/rules/"+signedID+"/revoke/options", nil, http.StatusOK).decode(&ruleCh)
	if got := alice.call(post, "/v1/me/rules/"+signedID+"/revoke", assertion(t, aliceKey, ruleCh.Options.PublicKey.Challenge, passkeytest.Options{}),
		http.StatusOK).field("revoke_assurance"); got != model.AssurancePasskey {
		t.Errorf("signed revocation assurance = %q", got)
	}
	ruleProof := alice.call(get, "/v1/me/rules/"+signedID+"/proof", nil, http.StatusOK)
	var ruleReport approval.RuleReport
	anon.call(post, "/v1/rule-proofs/verify", ruleProof.body, http.StatusOK).decode(&ruleReport)
	if !ruleReport.Valid || !ruleReport.SignedByResident || ruleReport.Revoke == nil || !ruleReport.Revoke.Verified || !ruleReport.Ledger.Matches {
		t.Errorf("rule proof report = %+v", ruleReport)
	}
	w.admin("root").call(get, "/v1/admin/rules/"+signedID+"/proof", nil, http.StatusOK)
	anon.call(post, "/v1/rule-proofs/verify", []byte(`{"format":"eidgate-rule-proof/v1"}`), http.StatusBadRequest)
	var aliceKeys struct {
		Passkeys []accounts.PasskeyInfo `json:"passkeys"`
	}
	alice.call(get, "/v1/me/passkeys", nil, http.StatusOK).decode(&aliceKeys)
	alice.call(del, "/v1/me/passkeys/"+aliceKeys.Passkeys[0].ID, nil, http.StatusOK)
	alice.call(post, "/v1/me/logout", nil, http.StatusOK)
	alice.call(get, "/v1/me", nil, http.StatusUnauthorized)
	w.signIn("/v1/me/login", map[string]any{"document": w.aliceDoc, "password": "a long passphrase"})

	// --- administrators: registry and keys ---
	root := w.admin("root")
	if got := root.call(get, "/v1/admin/me", nil, http.StatusOK).field("role"); got != accounts.RoleAdmin {
		t.Errorf("admin role = %q", got)
	}
	rootKey := registerPasskey(t, root, "/v1/admin", passkeytest.EdDSA)
	root = passkeySignIn(t, w, "/v1/admin", rootKey)
	var rootKeys struct {
		Passkeys []accounts.PasskeyInfo `json:"passkeys"`
	}
	root.call(get, "/v1/admin/passkeys", nil, http.StatusOK).decode(&rootKeys)
	root.call(del, "/v1/admin/passkeys/"+rootKeys.Passkeys[0].ID, nil, http.StatusOK)
	root.call(get, "/v1/admin/departments", nil, http.StatusOK)
	health := map[string]any{"id": "health-commission", "name": "卫生健康委员会", "msp_id": "HealthMSP",
		"endpoints": []string{"https://records.health.example.gov"}}
	root.call(post, "/v1/admin/departments", health, http.StatusCreated)
	health["name_en"] = "Health Commission"
	if got := root.call(put, "/v1/admin/departments/health-commission", health, http.StatusOK).field("name_en"); got != "Health Commission" {
		t.Errorf("updated department name_en = %q", got)
	}
	if got := root.call(post, "/v1/admin/departments/health-commission/status", map[string]string{"status": "suspended", "reason": "pending audit"},
		http.StatusOK).field("status"); got != model.DepartmentSuspended {
		t.Errorf("department status = %q", got)
	}
	var issued struct {
		Token string          `json:"token"`
		Key   accounts.APIKey `json:"api_key"`
	}
	root.call(post, "/v1/admin/departments/hr-bureau/apikeys", map[string]string{"name": "batch jobs"}, http.StatusCreated).decode(&issued)
	if !strings.HasPrefix(issued.Token, "egk_") {
		t.Errorf("issued token %q", issued.Token)
	}
	if l := root.call(get, "/v1/admin/departments/hr-bureau/apikeys", nil, http.StatusOK); bytes.Contains(l.body, []byte(issued.Token)) {
		t.Error("listing API keys shows a token")
	}
	root.call(post, "/v1/admin/apikeys/"+issued.Key.ID+"/revoke", nil, http.StatusOK)
	if r := w.department(issued.Token).call(get, "/v1/consents", nil, http.StatusUnauthorized); !bytes.Contains(r.body, []byte(`"code":"api_key_revoked"`)) {
		t.Errorf("a revoked API key: %s, want code api_key_revoked", r.body)
	}
	root.call(get, "/v1/admin/datatypes", nil, http.StatusOK)
	vacc := map[string]any{"code": "health.vaccination", "name": "疫苗接种记录", "schema": `{"type":"object"}`, "owners": []string{"civil-affairs"}}
	root.call(post, "/v1/admin/datatypes", vacc, http.StatusCreated)
	vacc["name_en"] = "Vaccination record"
	root.call(put, "/v1/admin/datatypes/health.vaccination", vacc, http.StatusOK)

	// --- mapping officers: eIDs at the KYC counter ---
	officer := w.admin("officer")
	passport := mapping.Input{Type: "passport", Number: "E12345678", Country: "CHN"}
	var created mapping.CreatedIdentity
	officer.call(post, "/v1/admin/eids", map[string]any{"documents": []mapping.Input{passport}}, http.StatusCreated).decode(&created)
	if created.ActivationCode == "" {
		t.Errorf("created.ActivationCode == \"\", want it different; created identity = %+v", created)
	} else if bytes.Contains([]byte(created.Documents[0].Masked), []byte(passport.Number)) {
		t.Errorf("bytes.Contains([]byte(created.Documents[0].Masked), []byte(passport.Number)) is true; created identity = %+v", created)
	}
	if got := officer.call(post, "/v1/admin/eids/search", map[string]any{"document": passport}, http.StatusOK).field("eid"); got != created.EID {
		t.Errorf("search = %q, want %s", got, created.EID)
	}
	officer.call(get, "/v1/admin/eids/"+esc(created.EID), nil, http.StatusOK)
	var added mapping.MaskedDocument
	officer.call(post, "/v1/admin/eids/"+esc(created.EID)+"/documents", map[string]any{"document": mapping.Input{Type: "hkmo-permit", Number: "H12345678"}},
		http.StatusCreated).decode(&added)
	officer.call(del, "/v1/admin/eids/"+esc(created.EID)+"/documents/"+esc(added.Ref), nil, http.StatusOK)
	officer.call(post, "/v1/admin/eids/"+esc(created.EID)+"/activation-code", nil, http.StatusCreated)
	var dup mapping.CreatedIdentity
	officer.call(post, "/v1/admin/eids", map[string]any{"documents": []mapping.Input{{Type: "cn-passport", Number: "EA1234567"}}}, http.StatusCreated).decode(&dup)
	officer.call(post, "/v1/admin/eids/"+esc(dup.EID)+"/merge", map[string]string{"into": created.EID, "reason": "same person, duplicate KYC"}, http.StatusOK)
	var merged struct {
		Meta model.DIDDocumentMetadata `json:"didDocumentMetadata"`
	}
	anon.call(get, "/1.0/identifiers/"+dup.EID, nil, http.StatusGone).decode(&merged)
	if !merged.Meta.Deactivated {
		t.Errorf("merged.Meta.Deactivated is false; merged DID metadata = %+v", merged.Meta)
	} else if merged.Meta.CanonicalID != created.EID {
		t.Errorf("merged.Meta.CanonicalID = %v, want created.EID; merged DID metadata = %+v", merged.Meta.CanonicalID, merged.Meta)
	}
	var third mapping.CreatedIdentity
	officer.call(post, "/v1/admin/eids", map[string]any{"documents": []mapping.Input{{Type: "tw-permit", Number: "12345678"}}}, http.StatusCreated).decode(&third)
	officer.call(post, "/v1/admin/eids/"+esc(third.EID)+"/deactivate", map[string]string{"reason": "resident deceased"}, http.StatusOK)

	// --- bulk imports ---
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "residents-2026-03.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte("type,number\ncn-resident,110105194912310011\ncn-resident,110105194912310021\n"))
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	var job mapping.ImportJob
	officer.send(post, "/v1/admin/imports", mw.FormDataContentType(), form.Bytes()).decode(&job)
	if job.FileName != "residents-2026-03.csv" {
		t.Errorf("job.FileName = %q, want \"residents-2026-03.csv\"; multipart import = %+v, want residents-2026-03.csv running", job.FileName, job)
	} else if job.Status != mapping.ImportRunning {
		t.Errorf("job.Status = %v, want mapping.ImportRunning; multipart import = %+v, want residents-2026-03.csv running", job.Status, job)
	}
	if done := w.waitImport(t, job.ID); done.Status != mapping.ImportDone {
		t.Errorf("done.Status = %v, want mapping.ImportDone; finished import = %+v, want done with 1 created and 1 rejected", done.Status, done)
	} else if done.Created != 1 {
		t.Errorf("done.Created = %v, want 1; finished import = %+v, want done with 1 created and 1 rejected", done.Created, done)
	} else if done.Rejected != 1 {
		t.Errorf("done.Rejected = %v, want 1; finished import = %+v, want done with 1 created and 1 rejected", done.Rejected, done)
	}
	if r := officer.send(post, "/v1/admin/imports?name=batch-7.csv", "text/csv", []byte("type,number\ncn-resident,110105194912310021\n")); r.status != http.StatusAccepted {
		t.Errorf("raw CSV import = %d: %s", r.status, r.body)
	}
	officer.call(get, "/v1/admin/imports", nil, http.StatusOK)
	officer.call(get, "/v1/admin/imports/"+job.ID, nil, http.StatusOK)
	rejects := officer.call(get, "/v1/admin/imports/"+job.ID+"/rejects", nil, http.StatusOK)
	if !strings.HasPrefix(rejects.resp.Header.Get("Content-Type"), "text/csv") || !bytes.Contains(rejects.body, []byte("checksum")) {
		t.Errorf("reject report = %q (%s)", rejects.body, rejects.resp.Header.Get("Content-Type"))
	}

	// --- policies and audit ---
	auditor := w.admin("auditor")
	auditor.call(get, "/v1/admin/policies", nil, http.StatusOK)
	rule := policies.Line{Kind: "p", Subject: hrBureau, Object: "health.*", Action: purpose, Effect: "deny"}
	root.call(post, "/v1/admin/policies/rules", rule, http.StatusCreated)
	root.call(post, "/v1/admin/policies/rules/delete", rule, http.StatusOK)
	auditor.call(get, "/v1/admin/policies/history", nil, http.StatusOK)
	auditor.call(post, "/v1/admin/policies/explain", map[string]any{"department": hrBureau, "data_type": "edu.degree", "purpose": purpose}, http.StatusOK)
	auditor.call(get, "/v1/admin/access?requester=hr-bureau&limit=50", nil, http.StatusOK)
	auditor.call(get, "/v1/admin/consents/"+consentID+"/proof", nil, http.StatusOK)
	var anchoring struct {
		OK      bool   `json:"ok"`
		Records uint64 `json:"records"`
	}
	auditor.call(get, "/v1/admin/anchoring", nil, http.StatusOK).decode(&anchoring)
	if !anchoring.OK {
		t.Errorf("anchoring.OK is false; anchoring = %+v", anchoring)
	} else if anchoring.Records == 0 {
		t.Errorf("anchoring.Records == 0, want it different; anchoring = %+v", anchoring)
	}
	root.call(get, "/v1/admin/users", nil, http.StatusOK)
	root.call(post, "/v1/admin/users", map[string]string{"username": "wang.fang", "password": "another long one", "role": accounts.RoleAuditor}, http.StatusCreated)
	auditTrailFlow(t, w, auditor, root, officer, created.EID)
	breakGlassFlow(t, w, root, auditor, hr)
	staffFlow(t, w, root, auditor, "wang.fang")
	fourEyesFlow(t, w, root, officer, auditor)
	guardianFlow(t, w, officer)
	root.call(post, "/v1/admin/logout", nil, http.StatusOK)

	credentialFlow(t, w, hr, edu, anon)
	disputeFlow(t, w, hr, edu)

	w.v.Check(t)
	w.v.CheckCoverage(t)
	// Error answers are covered by TestAPIErrorPathsConformToOpenAPI and by
	// the document's shared response components; list what this flow left
	// out for whoever reads -v output.
	t.Logf("documented responses this flow did not produce: %d", len(w.v.UnseenResponses()))
	seen := w.v.Responses()
	for _, op := range w.v.Operations() {
		ok := false
		for _, s := range seen[op] {
			ok = ok || (s >= 200 && s < 300)
		}
		if !ok {
			t.Errorf("%s was never answered with success (saw %v)", op, seen[op])
		}
	}
}

// TestAPIErrorPathsConformToOpenAPI checks the main error answers: the
// status, the stable code and the field a caller sees, and that each is
// described by openapi.yaml.
func TestAPIErrorPathsConformToOpenAPI(t *testing.T) {
	zeroEID := "did:eidgate:" + strings.Repeat("0", 32)
	resolve := func(subject map[string]any, extra map[string]any) map[string]any {
		b := map[string]any{"subject": subject, "data_type": "edu.degree", "purpose": purpose}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		name       string
		do         func(w *world) reply
		status     int
		code       string
		field      string
		retryAfter string
	}{
		{name: "unknown body field is named", status: 400, code: "invalid", field: "colour",
			do: func(w *world) reply {
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.alice}, map[string]any{"colour": "red"}))
			}},
		{name: "unknown nested field is named", status: 400, code: "invalid", field: "nickname",
			do: func(w *world) reply {
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.alice, "nickname": "Al"}, nil))
			}},
		{name: "wrong JSON type names the field", status: 400, code: "invalid", field: "max_uses",
			do: func(w *world) reply {
				return w.department(w.hrToken).do(post, "/v1/consents", map[string]any{"eid": w.alice, "data_types": []string{"edu.degree"},
					"purpose_code": purpose, "valid_until": "2026-04-01T00:00:00Z", "max_uses": "three"})
			}},
		{name: "body that is not JSON", status: 400, code: "invalid", field: "body",
			do: func(w *world) reply {
				return w.department(w.hrToken).send(post, "/v1/accounts/lookup", "text/plain", []byte("HR-2026-0042"))
			}},
		{name: "empty body", status: 400, code: "invalid", field: "body",
			do: func(w *world) reply {
				return w.department(w.hrToken).send(post, "/v1/accounts/lookup", "application/json", nil)
			}},
		{name: "missing official", status: 400, code: "invalid", field: "X-Eidgate-Official",
			do: func(w *world) reply {
				return w.department(w.hrToken).without("X-Eidgate-Official").do(get, "/v1/consents", nil)
			}},
		{name: "malformed official", status: 400, code: "invalid", field: "X-Eidgate-Official",
			do: func(w *world) reply {
				return w.department(w.hrToken).withHeader("X-Eidgate-Official", "zhang wei; drop").do(get, "/v1/consents", nil)
			}},
		{name: "resolve naming two subjects", status: 400, code: "invalid", field: "subject",
			do: func(w *world) reply {
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.alice, "document": w.aliceDoc}, nil))
			}},
		{name: "page size out of range", status: 400, code: "invalid", field: "limit",
			do: func(w *world) reply { return w.department(w.hrToken).do(get, "/v1/access?limit=0", nil) }},
		{name: "not a consent id", status: 400, code: "invalid", field: "id",
			do: func(w *world) reply { return w.department(w.hrToken).do(get, "/v1/consents/42", nil) }},
		{name: "no credentials", status: 401, code: "unauthenticated",
			do: func(w *world) reply {
				return w.anonymous().withHeader("X-Eidgate-Official", "zhang.wei").do(get, "/v1/consents", nil)
			}},
		{name: "unknown API key", status: 401, code: "unauthenticated",
			do: func(w *world) reply {
				return w.department("egk_aaaaaaaa_"+strings.Repeat("b", 40)).do(get, "/v1/consents", nil)
			}},
		{name: "API key of an unregistered department", status: 401, code: "unauthenticated",
			do: func(w *world) reply { return w.department(w.orphanToken).do(get, "/v1/consents", nil) }},
		{name: "API key in its own header", status: 200,
			do: func(w *world) reply {
				return w.department(w.hrToken).without("Authorization").withHeader("X-Eidgate-Api-Key", w.hrToken).do(get, "/v1/consents", nil)
			}},
		{name: "suspended department", status: 403, code: "department_suspended",
			do: func(w *world) reply { return w.department(w.taxToken).do(get, "/v1/consents", nil) }},
		{name: "rate limited department", status: 429, code: "rate_limited", retryAfter: "2",
			do: func(w *world) reply { return w.department(w.statsToken).do(get, "/v1/consents", nil) }},
		{name: "resident not signed in", status: 401, code: "unauthenticated",
			do: func(w *world) reply { return w.anonymous().do(get, "/v1/me", nil) }},
		{name: "wrong password", status: 401, code: "invalid_credentials",
			do: func(w *world) reply {
				return w.anonymous().do(post, "/v1/admin/login", map[string]string{"username": "root", "password": "guess"})
			}},
		{name: "unknown document at resident login", status: 401, code: "invalid_credentials",
			do: func(w *world) reply {
				return w.anonymous().do(post, "/v1/me/login", map[string]any{"document": mapping.Input{Type: "cn-resident", Number: "110105200001010008"}, "password": "x"})
			}},
		{name: "auditor may not register departments", status: 403, code: "forbidden",
			do: func(w *world) reply {
				return w.admin("auditor").do(post, "/v1/admin/departments", map[string]string{"id": "x-bureau", "name": "X", "msp_id": "XMSP"})
			}},
		{name: "mapping officer may not read policies", status: 403, code: "forbidden",
			do: func(w *world) reply { return w.admin("officer").do(get, "/v1/admin/policies", nil) }},
		{name: "missing CSRF token", status: 403, code: "csrf",
			do: func(w *world) reply {
				root := w.admin("root")
				root.csrf = ""
				return root.do(post, "/v1/admin/users", map[string]string{"username": "x", "password": "y", "role": "auditor"})
			}},
		{name: "administrator session on the resident API", status: 401, code: "unauthenticated",
			do: func(w *world) reply { return w.admin("root").do(get, "/v1/me/consents", nil) }},
		{name: "consent of another department", status: 404, code: "not_found",
			do: func(w *world) reply {
				c, err := w.ledger.RequestConsent(context.Background(), model.ConsentRequest{EID: w.alice, Requester: "civil-affairs", Provider: "*",
					DataTypes: []string{"edu.degree"}, PurposeCode: "marriage", ValidUntil: "2026-04-01T00:00:00Z"})
				if err != nil {
					w.t.Fatal(err)
				}
				return w.department(w.hrToken).do(get, "/v1/consents/"+c.ID, nil)
			}},
		{name: "unknown eID", status: 404, code: "not_found",
			do: func(w *world) reply { return w.admin("officer").do(get, "/v1/admin/eids/"+zeroEID, nil) }},
		{name: "unknown import", status: 404, code: "import_not_found",
			do: func(w *world) reply {
				return w.admin("officer").do(get, "/v1/admin/imports/"+strings.Repeat("0", 64)+"/rejects", nil)
			}},
		{name: "malformed import id", status: 400, code: "invalid_import_id", field: "id",
			do: func(w *world) reply { return w.admin("officer").do(get, "/v1/admin/imports/imp-999999/rejects", nil) }},
		{name: "unknown subject", status: 404, code: "subject_not_found",
			do: func(w *world) reply {
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"document": mapping.Input{Type: "cn-resident", Number: "110105200001010008"}}, nil))
			}},
		{name: "no route for the data type", status: 404, code: "no_route",
			do: func(w *world) reply {
				grant(w, w.alice, "edu.transcript")
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", map[string]any{"subject": map[string]string{"eid": w.alice},
					"data_type": "edu.transcript", "purpose": purpose})
			}},
		{name: "access record of someone else", status: 404, code: "not_found",
			do: func(w *world) reply {
				w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.bob}, nil))
				recs, _ := w.access.ListAccess(context.Background(), routing.AccessFilter{EID: w.bob})
				return w.residentSession(w.alice, w.aliceDoc).do(get, "/v1/me/access/"+recs[0].ID+"/proof", nil)
			}},
		{name: "record not anchored yet", status: 404, code: "not_anchored",
			do: func(w *world) reply {
				w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.alice}, nil))
				recs, _ := w.access.ListAccess(context.Background(), routing.AccessFilter{EID: w.alice})
				return w.residentSession(w.alice, w.aliceDoc).do(get, "/v1/me/access/"+recs[0].ID+"/proof", nil)
			}},
		{name: "policy denies the purpose", status: 403, code: "policy_denied",
			do: func(w *world) reply {
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", map[string]any{"subject": map[string]string{"eid": w.alice},
					"data_type": "edu.degree", "purpose": "marketing"})
			}},
		{name: "granting a consent twice", status: 409, code: "consent_state",
			do: func(w *world) reply {
				id := grant(w, w.alice, "edu.degree")
				return w.residentSession(w.alice, w.aliceDoc).do(post, "/v1/me/consents/"+id+"/grant", nil)
			}},
		{name: "registering a department twice", status: 409, code: "conflict",
			do: func(w *world) reply {
				return w.admin("root").do(post, "/v1/admin/departments", map[string]string{"id": hrBureau, "name": "HR", "msp_id": "HrMSP"})
			}},
		{name: "provider serves a record that does not match its digest", status: 502, code: "digest_mismatch",
			do: func(w *world) reply {
				grant(w, w.bob, "edu.degree")
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.bob}, map[string]any{"mode": "proxy"}))
			}},
		{name: "anchoring state stale: no ticket", status: 503, code: "anchoring_unknown", retryAfter: "5",
			do: func(w *world) reply {
				grant(w, w.alice, "edu.degree")
				w.clock.Advance(time.Minute)
				return w.department(w.hrToken).do(post, "/v1/routes/resolve", resolve(map[string]any{"eid": w.alice}, nil))
			}},
		{name: "readiness red when anchoring lags", status: 503,
			do: func(w *world) reply {
				w.clock.Advance(time.Minute)
				return w.anonymous().do(get, "/readyz", nil)
			}},
		{name: "unknown endpoint", status: 404, code: "not_found",
			do: func(w *world) reply { return w.anonymous().do(get, "/v1/nothing-here", nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			r := tc.do(w)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				e := r.apiError()
				if e.Code != tc.code {
					t.Errorf("e.Code = %v, want tc.code; error = %+v, want code %q field %q", e.Code, e, tc.code, tc.field)
				} else if e.Field != tc.field {
					t.Errorf("e.Field = %v, want tc.field; error = %+v, want code %q field %q", e.Field, e, tc.code, tc.field)
				}
				if e.RequestID == "" || e.RequestID != r.resp.Header.Get("X-Request-Id") {
					t.Errorf("request_id %q does not match X-Request-Id %q", e.RequestID, r.resp.Header.Get("X-Request-Id"))
				}
				if bytes.Contains(r.body, []byte(w.aliceDoc.Number)) {
					t.Errorf("the answer holds a full document number: %s", r.body)
				}
			}
			if got := r.resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			w.v.Check(t)
		})
	}
}

// grant puts an active consent of hr-bureau for dataType on the ledger.
func grant(w *world, eid, dataType string) string {
	w.t.Helper()
	ctx := context.Background()
	c, err := w.ledger.RequestConsent(ctx, model.ConsentRequest{EID: eid, Requester: hrBureau, Provider: "*", DataTypes: []string{dataType},
		PurposeCode: purpose, ValidUntil: w.clock.Now().Add(24 * time.Hour).Format(time.RFC3339)})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.ledger.GrantConsent(ctx, c.ID, "counter"); err != nil {
		w.t.Fatal(err)
	}
	return c.ID
}

// residentSession activates the resident's account and signs in.
func (w *world) residentSession(eid string, doc mapping.Input) *caller {
	w.t.Helper()
	return w.signIn("/v1/me/activate", map[string]any{"document": doc, "code": w.activationCode(eid), "password": "a long passphrase"})
}
