package devnet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/fabrictest"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The conformance table runs the same ledger calls against the devnet and,
// when EIDGATE_TEST_FABRIC names a Fabric release, against a real Fabric
// 2.5 network brought up by network.sh — in one test, call for call — and
// requires the same outcome from both: gRPC status code, status message and
// ErrorDetail messages, validation code, result and chaincode events. Both
// run the consortium of deploy/fabric/configtx.yaml: the platform and two
// departments, each with a peer, the eidgate chaincode under MAJORITY
// Endorsement. Every row also states what it expects, so the devnet-only
// run (no release at hand) still checks the devnet against what the real
// peer answered. docs/fabric-protocol.md lists the rows.

// conformanceTarget is one network the table runs on.
type conformanceTarget struct {
	name string
	// The eidgate administrator, the gateway's agent identity and the
	// department edu-bureau's own identity, over TLS as the gateway dials.
	admin, agent, dept *ledger.Client
	agentKey           *ecdsa.PrivateKey // signs raw requests as the agent
	// stopPeers and startPeers take the two department peers down and up.
	stopPeers, startPeers func(t *testing.T)
	// eventuallyFor bounds how long a row may wait for the network to
	// settle (gossip noticing stopped or restarted peers).
	eventuallyFor time.Duration
	norm          *normalizer
	// state carried between rows
	eid, other, consent, denied string
	rule                        string             // the standing rule created and revoked
	ruleDraft                   model.RuleDraft    // the signed standing rule's draft
	signedRule                  model.StandingRule // the standing rule created with the passkey
	rep                         string             // the relation under which tg.other acts for tg.eid
	signed                      model.Consent      // the consent granted with a passkey
	routeKey                    *ecdsa.PrivateKey
	checkpointBlock             uint64
	checkpointTx, lastTx        string
	lastResult                  []byte // the raw result of the last successful call
	degreeEN                    string // the data type as last written (JSON)
	dispute                     string // the dispute raised, answered and closed
}

// outcome is what a row observed, normalised so two networks compare.
type outcome struct {
	Code    string   `json:"code"`              // gRPC code name, OK on success
	Message string   `json:"message,omitempty"` // the status message
	Details []string `json:"details,omitempty"` // the ErrorDetail messages
	Commit  string   `json:"commit,omitempty"`  // validation code of a committed transaction
	Result  string   `json:"result,omitempty"`  // the function's result
	Events  []string `json:"events,omitempty"`  // chaincode events: name and payload
}

func (o outcome) String() string {
	b, _ := json.MarshalIndent(o, "", "  ")
	return string(b)
}

// want is what every target must answer for a row.
type want struct {
	code    codes.Code
	message string // a substring of the status message (after normalising)
	detail  string // a substring of one ErrorDetail message
	commit  string // the validation code, for rows that commit
}

type conformanceRow struct {
	name string
	fn   string // the contract function the row calls successfully
	run  func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome
	want want
}

func TestConformanceDevnetAndFabric(t *testing.T) {
	// The rows that failed, repeated after the networks' log tails (this
	// cleanup runs last), so the end of a failed run names them.
	var failed []string
	t.Cleanup(func() {
		if len(failed) > 0 {
			t.Logf("conformance rows that failed (%d):\n  %s", len(failed), strings.Join(failed, "\n  "))
		}
	})
	targets := []*conformanceTarget{devnetTarget(t)}
	if real := fabricTarget(t); real != nil {
		targets = append(targets, real)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		tg.routeKey = key
	}
	called := map[string]bool{}
	for _, row := range conformanceRows(key) {
		got := make([]outcome, len(targets))
		for i, tg := range targets {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			got[i] = row.run(ctx, t, tg)
			cancel()
			if err := row.want.check(got[i]); err != nil {
				t.Errorf("%s on %s: %v\n%s", row.name, tg.name, err, got[i])
				failed = append(failed, fmt.Sprintf("%s on %s: %v", row.name, tg.name, err))
			}
		}
		for i := 1; i < len(targets); i++ {
			if !reflect.DeepEqual(got[0], got[i]) {
				t.Errorf("%s: %s and %s differ\n%s: %s\n%s: %s", row.name, targets[0].name, targets[i].name,
					targets[0].name, got[0], targets[i].name, got[i])
				failed = append(failed, fmt.Sprintf("%s: %s and %s differ", row.name, targets[0].name, targets[i].name))
			}
		}
		if row.fn != "" && got[0].Code == codes.OK.String() {
			called[row.fn] = true
		}
	}
	for _, fn := range contractFunctions() {
		if !called[fn] {
			t.Errorf("contract function %s has no successful row in the conformance table", fn)
		}
	}
}

func (w want) check(o outcome) error {
	if o.Code != w.code.String() {
		return fmt.Errorf("code %s, want %s", o.Code, w.code)
	}
	if !strings.Contains(o.Message, w.message) {
		return fmt.Errorf("message %q, want it to contain %q", o.Message, w.message)
	}
	if w.detail != "" && !slices.ContainsFunc(o.Details, func(d string) bool { return strings.Contains(d, w.detail) }) {
		return fmt.Errorf("details %q, want one containing %q", o.Details, w.detail)
	}
	if o.Commit != w.commit {
		return fmt.Errorf("commit %q, want %q", o.Commit, w.commit)
	}
	if w.commit == "VALID" && (len(o.Events) != 1 || strings.HasPrefix(o.Events[0], "error:")) {
		return fmt.Errorf("events %q, want the transaction's one event", o.Events)
	}
	return nil
}

// contractFunctions lists the transaction functions of the contract.
func contractFunctions() []string {
	skip := map[string]bool{"GetName": true, "GetInfo": true, "GetUnknownTransaction": true, "GetBeforeTransaction": true,
		"GetAfterTransaction": true, "GetTransactionContextHandler": true, "GetEvaluateTransactions": true, "GetIgnoredFunctions": true}
	var out []string
	ty := reflect.TypeOf(&chaincode.Contract{})
	for i := range ty.NumMethod() {
		if name := ty.Method(i).Name; !skip[name] {
			out = append(out, name)
		}
	}
	return out
}

// --- targets ---

func devnetTarget(t *testing.T) *conformanceTarget {
	cc, err := chaincode.NewChaincode(devnet.DefaultPlatformMSPID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := openPeer(t, dir, func(c *devnet.Config) {
		c.Orgs = []devnet.OrgConfig{{ID: "edu-bureau", Peer: true}, {ID: "civil-affairs", Peer: true}}
		c.Endorsement = devnet.EndorseMajority
		c.Chaincodes = map[string]shim.Chaincode{devnet.DefaultChaincode: cc}
		c.ProfileChaincode = devnet.DefaultChaincode
	})
	tg := &conformanceTarget{
		name:  "devnet",
		admin: overTLS(t, p, devnet.PlatformOrg, devnet.AdminName),
		agent: overTLS(t, p, devnet.PlatformOrg, devnet.AgentName),
		dept:  overTLS(t, p, "edu-bureau", devnet.DepartmentSystemName),
		stopPeers: func(t *testing.T) {
			for _, org := range []string{"edu-bureau", "civil-affairs"} {
				if err := p.StopPeer(org); err != nil {
					t.Fatal(err)
				}
			}
		},
		startPeers: func(t *testing.T) {
			for _, org := range []string{"edu-bureau", "civil-affairs"} {
				if err := p.StartPeer(org); err != nil {
					t.Fatal(err)
				}
			}
		},
		eventuallyFor: 5 * time.Second,
	}
	tg.agentKey = loadIdentity(t, filepath.Join(dir, "crypto", "platform", "users", devnet.AgentName, "msp"), devnet.DefaultPlatformMSPID).Key
	tg.norm = newNormalizer(tg)
	return tg
}

// fabricTarget is the real network, or nil (the devnet runs alone) when
// no Fabric release is named and none is required.
func fabricTarget(t *testing.T) *conformanceTarget {
	if os.Getenv(fabrictest.EnvRelease) == "" && os.Getenv(fabrictest.EnvRequired) != "true" {
		t.Logf("real network not run: set %s to a Fabric 2.5 release dir to compare the devnet with it", fabrictest.EnvRelease)
		return nil
	}
	n := fabrictest.Start(t, fabrictest.Options{Deploy: true})
	dial := func(path string) *ledger.Client {
		t.Helper()
		prof, err := ledger.LoadProfile(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := ledger.Dial(ctx, prof)
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	peers := []string{"peer0.edubureau", "peer0.civilaffairs"}
	tg := &conformanceTarget{
		name:  "fabric",
		admin: dial(n.AdminProfile()),
		agent: dial(n.AgentProfile()),
		dept:  dial(n.Profile("edubureau", "department")),
		stopPeers: func(t *testing.T) {
			for _, p := range peers {
				n.Must(t, "stop", p)
			}
		},
		startPeers: func(t *testing.T) {
			for _, p := range peers {
				n.Must(t, "start", p)
			}
		},
		eventuallyFor: 2 * time.Minute,
	}
	tg.agentKey = profileKey(t, n.AgentProfile())
	tg.norm = newNormalizer(tg)
	tg.waitEndorsable(t)
	return tg
}

// waitEndorsable waits until the gateway's discovery can plan endorsements
// on a fresh network (gossip must have spread the peers and their
// chaincode first): a proposal is endorsed, never submitted, until the
// plan succeeds.
func (tg *conformanceTarget) waitEndorsable(t *testing.T) {
	t.Helper()
	// A read succeeds on the first endorser, so the answer is the plan's.
	p, err := tg.admin.Network().GetContract(devnet.DefaultChaincode).NewProposal(model.FnListDepartments)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(tg.eventuallyFor)
	for {
		_, err := p.Endorse()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no endorsement plan after %v: %v", tg.name, tg.eventuallyFor, err)
		}
		time.Sleep(time.Second)
	}
}

// profileKey loads the private key of a connection profile's MSP folder.
func profileKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	prof, err := ledger.LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := prof.MSP.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(path), dir)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "keystore", "*"))
	if len(keys) != 1 {
		t.Fatalf("%s: want one key in keystore/, found %v", dir, keys)
	}
	raw, err := os.ReadFile(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		t.Fatalf("%s: no PEM", keys[0])
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("%s: not an ECDSA key", keys[0])
	}
	return ek
}

// --- normalising ---

// normalizer replaces what legitimately differs between two networks
// running the same calls: transaction ids and the values derived from them
// (eIDs, consent ids), times, signatures, and the names the networks'
// CAs gave the same identities.
type normalizer struct {
	names map[string]string // "MSP/CN" → role
	ids   map[string]string // eID or consent id → placeholder
}

func newNormalizer(tg *conformanceTarget) *normalizer {
	n := &normalizer{names: map[string]string{}, ids: map[string]string{}}
	for role, c := range map[string]*ledger.Client{"<admin>": tg.admin, "<agent>": tg.agent, "<department>": tg.dept} {
		id := c.Gateway().Identity()
		block, _ := pem.Decode(id.Credentials())
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			panic(err)
		}
		n.names[id.MspID()+"/"+cert.Subject.CommonName] = role
	}
	return n
}

var (
	eidRe     = regexp.MustCompile(`did:eidgate:[0-9a-f]{32}`)
	consentRe = regexp.MustCompile(`cs-[0-9a-f]{16,}`)
	ruleRe    = regexp.MustCompile(`sr-[0-9a-f]{16,}`)
	disputeRe = regexp.MustCompile(`dp-[0-9a-f]{16,}`)
	repRe     = regexp.MustCompile(`rp-[0-9a-f]{16,}`)
	hex64Re   = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	creatorRe = regexp.MustCompile(`Creator \[[0-9a-f]+\]`)
	timeRe    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	// Fields that hold a transaction id, a time or a signature (or, in a
	// passkey signature, parts that cover times and ids).
	volatileKV = map[string]bool{"tx_id": true, "versionId": true, "signature": true,
		"digest": true, "client_data_json": true, "authenticator_data": true}
)

// text normalises a message or a result.
func (n *normalizer) text(s string) string {
	for name, role := range n.names {
		s = strings.ReplaceAll(s, name, role)
	}
	s = creatorRe.ReplaceAllString(s, "Creator [<creator>]")
	s = timeRe.ReplaceAllString(s, "<time>")
	for _, re := range []*regexp.Regexp{eidRe, consentRe, ruleRe, disputeRe, repRe} {
		s = re.ReplaceAllStringFunc(s, func(id string) string {
			if p, ok := n.ids[id]; ok {
				return p
			}
			p := fmt.Sprintf("<id-%d>", len(n.ids)+1)
			n.ids[id] = p
			return p
		})
	}
	return s
}

// json normalises a JSON result: volatile fields and times are replaced,
// then ids and names as in text.
func (n *normalizer) json(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return n.text(string(raw))
	}
	v = scrub(v)
	out, _ := json.Marshal(v)
	text := n.text(string(out))
	// A list is in key order, and keys hold ids derived from transaction
	// ids: compare lists as sets.
	var list []json.RawMessage
	if json.Unmarshal([]byte(text), &list) == nil && len(list) > 1 {
		slices.SortFunc(list, func(a, b json.RawMessage) int { return strings.Compare(string(a), string(b)) })
		sorted, _ := json.Marshal(list)
		text = string(sorted)
	}
	return text
}

func scrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s != "" && volatileKV[k] {
				x[k] = "<" + k + ">"
				continue
			}
			x[k] = scrub(e)
		}
	case []any:
		for i := range x {
			x[i] = scrub(x[i])
		}
	}
	return v
}

// failure normalises a gRPC error.
func (n *normalizer) failure(err error) outcome {
	st, ok := status.FromError(err)
	if !ok {
		return outcome{Code: "not-a-status", Message: err.Error()}
	}
	o := outcome{Code: st.Code().String(), Message: n.text(hex64Re.ReplaceAllString(st.Message(), "<tx>"))}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			o.Details = append(o.Details, n.text(hex64Re.ReplaceAllString(ed.GetMessage(), "<tx>")))
		}
	}
	sort.Strings(o.Details)
	return o
}

// --- calls ---

// evaluate calls a function read-only through the typed client's gateway
// connection, as its typed methods do.
func evaluate(ctx context.Context, tg *conformanceTarget, c *ledger.Client, fn string, args ...string) outcome {
	if err := awaitLastCommit(ctx, tg, c); err != nil {
		return outcome{Code: "client", Message: err.Error()}
	}
	p, err := c.Network().GetContract(devnet.DefaultChaincode).NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return outcome{Code: "client", Message: err.Error()}
	}
	res, err := p.EvaluateWithContext(ctx)
	if err != nil {
		return tg.norm.failure(err)
	}
	tg.lastResult = res
	return outcome{Code: codes.OK.String(), Result: tg.norm.json(res)}
}

// awaitLastCommit waits until the peer c's gateway evaluates on has
// committed the table's last successful transaction. A submit waits for
// the commit at the submitter's own peer only; another organisation's peer
// may still be a block behind when the next row reads through it.
func awaitLastCommit(ctx context.Context, tg *conformanceTarget, c *ledger.Client) error {
	if tg.lastTx == "" {
		return nil
	}
	id := c.Gateway().Identity()
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: id.MspID(), IdBytes: id.Credentials()})
	if err != nil {
		return err
	}
	req, err := proto.Marshal(&gateway.CommitStatusRequest{TransactionId: tg.lastTx, ChannelId: c.Network().Name(), Identity: creator})
	if err != nil {
		return err
	}
	raw, err := proto.Marshal(&gateway.SignedCommitStatusRequest{Request: req})
	if err != nil {
		return err
	}
	commit, err := c.Gateway().NewCommit(raw)
	if err != nil {
		return err
	}
	if _, err := commit.StatusWithContext(ctx); err != nil {
		return fmt.Errorf("wait for %s at the reader's peer: %w", tg.lastTx, err)
	}
	return nil
}

// submit endorses, submits and waits for the commit, and reports the
// transaction's event as the events service delivers it.
func submit(ctx context.Context, tg *conformanceTarget, c *ledger.Client, fn string, args ...string) outcome {
	o, _ := submitTx(ctx, tg, c, fn, args...)
	return o
}

func submitTx(ctx context.Context, tg *conformanceTarget, c *ledger.Client, fn string, args ...string) (outcome, *client.Status) {
	p, err := c.Network().GetContract(devnet.DefaultChaincode).NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return outcome{Code: "client", Message: err.Error()}, nil
	}
	tx, err := p.EndorseWithContext(ctx)
	if err != nil {
		return tg.norm.failure(err), nil
	}
	commit, err := tx.SubmitWithContext(ctx)
	if err != nil {
		return tg.norm.failure(err), nil
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return tg.norm.failure(err), nil
	}
	o := outcome{Code: codes.OK.String(), Commit: st.Code.String(), Result: tg.norm.json(tx.Result())}
	if st.Successful {
		tg.lastTx, tg.lastResult = st.TransactionID, tx.Result()
		o.Events = tg.eventsOf(ctx, st.BlockNumber, st.TransactionID)
	}
	return o, st
}

// rawEvents opens the events service with a request signed by the agent
// (the fabric-gateway client's channel API hides the stream's error).
func rawEvents(ctx context.Context, tg *conformanceTarget, channel string, opts ...client.ChaincodeEventsOption) (gateway.Gateway_ChaincodeEventsClient, error) {
	req, err := tg.agent.Gateway().GetNetwork(channel).NewChaincodeEventsRequest(devnet.DefaultChaincode, opts...)
	if err != nil {
		return nil, err
	}
	raw, err := req.Bytes()
	if err != nil {
		return nil, err
	}
	var signed gateway.SignedChaincodeEventsRequest
	if err := proto.Unmarshal(raw, &signed); err != nil {
		return nil, err
	}
	if signed.Signature, err = signLowS(tg.agentKey, req.Digest()); err != nil {
		return nil, err
	}
	return gateway.NewGatewayClient(tg.agent.Conn()).ChaincodeEvents(ctx, &signed)
}

// signLowS signs a digest with S in the lower half of the order, as Fabric
// requires.
func signLowS(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		return nil, err
	}
	var s ecdsaSig
	if _, err := asn1.Unmarshal(der, &s); err != nil {
		return nil, err
	}
	if n := key.Params().N; s.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.S.Sub(n, s.S)
	}
	return asn1.Marshal(s)
}

// eventsOf reads, from block on, the event of transaction txID.
func (tg *conformanceTarget) eventsOf(ctx context.Context, block uint64, txID string) []string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := rawEvents(ctx, tg, tg.agent.Network().Name(), client.WithStartBlock(block))
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return []string{"error: " + tg.norm.failure(err).Message}
		}
		for _, ev := range resp.GetEvents() {
			if ev.GetTxId() == txID {
				return []string{ev.GetEventName() + " " + tg.norm.json(ev.GetPayload())}
			}
		}
	}
}

// eventsBetween reads the events after (block, afterTx) up to and including
// the event of lastTx, as a checkpointed listener resumes.
func (tg *conformanceTarget) eventsBetween(ctx context.Context, block uint64, afterTx, lastTx string) outcome {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := rawEvents(ctx, tg, tg.agent.Network().Name(), client.WithCheckpoint(checkpointAt{block, afterTx}))
	if err != nil {
		return tg.norm.failure(err)
	}
	o := outcome{Code: codes.OK.String()}
	for {
		resp, err := stream.Recv()
		if err != nil {
			f := tg.norm.failure(err)
			f.Events = o.Events
			return f
		}
		for _, ev := range resp.GetEvents() {
			o.Events = append(o.Events, ev.GetEventName()+" "+tg.norm.json(ev.GetPayload()))
			if ev.GetTxId() == lastTx {
				return o
			}
		}
	}
}

type checkpointAt struct {
	block uint64
	tx    string
}

func (c checkpointAt) BlockNumber() uint64   { return c.block }
func (c checkpointAt) TransactionID() string { return c.tx }

// eventually repeats call until it answers code or the target's bound
// passes, and returns the last outcome.
func eventually(ctx context.Context, tg *conformanceTarget, code codes.Code, call func() outcome) outcome {
	deadline := time.Now().Add(tg.eventuallyFor)
	for {
		o := call()
		if o.Code == code.String() || time.Now().After(deadline) || ctx.Err() != nil {
			return o
		}
		time.Sleep(time.Second)
	}
}

func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// --- the table ---

func conformanceRows(key *ecdsa.PrivateKey) []conformanceRow {
	pub, err := model.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		panic(err)
	}
	edu := model.Department{ID: "edu-bureau", Name: "市教育局", NameEN: "Education Bureau", MSPID: "EduBureauMSP",
		Endpoints: []string{"https://edu.example/records"}, SigningKeys: []model.SigningKey{{KID: "k1", PublicKeyPEM: pub, Status: model.KeyActive}}}
	civil := model.Department{ID: "civil-affairs", Name: "市民政局", MSPID: "CivilAffairsMSP", Endpoints: []string{"https://civil.example/records"}}
	degree := model.DataType{Code: "edu.degree", Name: "学位证书", Schema: `{"type":"object"}`, Owners: []string{"edu-bureau"}}
	// degreeEN is the data type as updated below: writing it again is a
	// valid transaction that changes nothing.
	degreeEN := degree
	degreeEN.NameEN = "Degree certificate"
	route := func(tg *conformanceTarget, version uint64, digit string) string {
		s, err := model.SignRoute(tg.routeKey, "k1", model.RouteStatement{EID: tg.eid, DataType: "edu.degree", Provider: "edu-bureau",
			Version: version, Digest: "sha256:" + strings.Repeat(digit, 64), Schema: "edu.degree/1"})
		if err != nil {
			panic(err)
		}
		return jsonArg(s)
	}
	consentRequest := func(tg *conformanceTarget) string {
		now := time.Now().UTC()
		return jsonArg(model.ConsentRequest{EID: tg.eid, Requester: "civil-affairs", Provider: "*", DataTypes: []string{"edu.degree"},
			PurposeCode: "employment", ValidFrom: now.Add(-time.Minute).Format(time.RFC3339), ValidUntil: now.Add(time.Hour).Format(time.RFC3339), MaxUses: 5})
	}
	// One resident passkey for every target, so results compare.
	passkey := passkeytest.New(passkeytest.EdDSA, []byte("alice"))
	approve := func(tg *conformanceTarget, kind string, cs model.Consent) string {
		nonce := "AAECAwQFBgcICQoLDA0ODw"
		d, err := model.ConsentStatement(kind, cs, tg.eid, nonce).Digest()
		if err != nil {
			panic(err)
		}
		a := passkey.Assert("localhost", "http://localhost:8080", d[:], passkeytest.Options{})
		return jsonArg(a.Approval(model.PasskeyMethodID(tg.eid, passkey.KeyID()), nonce))
	}
	approveRule := func(tg *conformanceTarget, kind string, r model.StandingRule) string {
		nonce := "AAECAwQFBgcICQoLDA0ODw"
		d, err := model.RuleStatement(kind, r, tg.eid, nonce).Digest()
		if err != nil {
			panic(err)
		}
		a := passkey.Assert("localhost", "http://localhost:8080", d[:], passkeytest.Options{})
		return jsonArg(a.Approval(model.PasskeyMethodID(tg.eid, passkey.KeyID()), nonce))
	}
	ruleDraft := func(tg *conformanceTarget) model.RuleDraft {
		now := time.Now().UTC().Truncate(time.Second)
		return model.RuleDraft{EID: tg.eid, Roles: []string{"employer-hr"}, DataTypes: []string{"edu.degree"}, PurposeCode: "employment",
			ValidFrom: now.Add(-time.Minute).Format(time.RFC3339), ValidUntil: now.Add(time.Hour).Format(time.RFC3339), MaxUses: 2}
	}
	draftTerms := func(d model.RuleDraft) model.StandingRule {
		return model.StandingRule{EID: d.EID, Departments: d.Departments, Roles: d.Roles, DataTypes: d.DataTypes,
			PurposeCode: d.PurposeCode, Note: d.Note, ValidFrom: d.ValidFrom, ValidUntil: d.ValidUntil, MaxUses: d.MaxUses}
	}
	// The guardian's passkey (tg.other acts for tg.eid).
	guardianKey := passkeytest.New(passkeytest.EdDSA, []byte("bob"))
	approveAsGuardian := func(tg *conformanceTarget, kind string, cs model.Consent) string {
		nonce := "AAECAwQFBgcICQoLDA0ODw"
		d, err := model.GuardianConsentStatement(kind, cs, tg.other, nonce, tg.rep).Digest()
		if err != nil {
			panic(err)
		}
		a := guardianKey.Assert("localhost", "http://localhost:8080", d[:], passkeytest.Options{}).
			Approval(model.PasskeyMethodID(tg.other, guardianKey.KeyID()), nonce)
		a.Representation = tg.rep
		return jsonArg(a)
	}
	relation := func(tg *conformanceTarget, ward, guardian string) string {
		return jsonArg(model.RepresentationDraft{Ward: ward, Guardian: guardian, Kind: model.RepresentationParent,
			Evidence:      model.RepresentationEvidence{Kind: "birth_certificate", HashedRef: "v1:" + strings.Repeat("d", 64), MaskedRef: "N1******89"},
			WardBirthDate: "2015-06-01", Officer: "officer.li"})
	}
	ok := want{code: codes.OK}
	valid := want{code: codes.OK, commit: "VALID"}
	const endorseFailed = "failed to endorse transaction, see attached details for more info"

	return []conformanceRow{
		// --- departments and data types ---
		{name: "admin registers a department", fn: model.FnRegisterDepartment, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.admin, model.FnRegisterDepartment, jsonArg(civil))
				return submit(ctx, tg, tg.admin, model.FnRegisterDepartment, jsonArg(edu))
			}},
		{name: "forbidden caller: the agent registers a department", want: want{code: codes.Aborted, message: endorseFailed, detail: "chaincode response 500, FORBIDDEN: RegisterDepartment requires the admin role"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRegisterDepartment, jsonArg(model.Department{ID: "hrss", Name: "HR", MSPID: "HRSSMSP"}))
			}},
		{name: "registering twice conflicts", want: want{code: codes.Aborted, message: endorseFailed, detail: "CONFLICT: department edu-bureau already exists"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.admin, model.FnRegisterDepartment, jsonArg(edu))
			}},
		{name: "update a department", fn: model.FnUpdateDepartment, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				c := civil
				c.NameEN = "Civil Affairs Bureau"
				return submit(ctx, tg, tg.admin, model.FnUpdateDepartment, jsonArg(c))
			}},
		{name: "MVCC conflict: two updates endorsed on the same state", want: want{code: codes.OK, commit: "MVCC_READ_CONFLICT"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				contract := tg.admin.Network().GetContract(devnet.DefaultChaincode)
				var txs []*client.Transaction
				for _, name := range []string{"Civil Affairs A", "Civil Affairs B"} {
					c := civil
					c.NameEN = name
					p, err := contract.NewProposal(model.FnUpdateDepartment, client.WithArguments(jsonArg(c)))
					if err != nil {
						t.Fatal(err)
					}
					tx, err := p.EndorseWithContext(ctx)
					if err != nil {
						return tg.norm.failure(err)
					}
					txs = append(txs, tx)
				}
				var last *client.Status
				for _, tx := range txs {
					commit, err := tx.SubmitWithContext(ctx)
					if err != nil {
						return tg.norm.failure(err)
					}
					if last, err = commit.StatusWithContext(ctx); err != nil {
						return tg.norm.failure(err)
					}
				}
				return outcome{Code: codes.OK.String(), Commit: last.Code.String()}
			}},
		{name: "suspend and reactivate a department", fn: model.FnSetDepartmentStatus, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.admin, model.FnSetDepartmentStatus, "civil-affairs", model.DepartmentSuspended, "audit")
				return submit(ctx, tg, tg.admin, model.FnSetDepartmentStatus, "civil-affairs", model.DepartmentActive, "audit done")
			}},
		{name: "a department reads a department", fn: model.FnGetDepartment, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnGetDepartment, "civil-affairs")
			}},
		{name: "list departments", fn: model.FnListDepartments, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListDepartments)
			}},
		{name: "register a data type", fn: model.FnRegisterDataType, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.admin, model.FnRegisterDataType, jsonArg(degree))
			}},
		{name: "update a data type", fn: model.FnUpdateDataType, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				tg.degreeEN = jsonArg(degreeEN)
				return submit(ctx, tg, tg.admin, model.FnUpdateDataType, tg.degreeEN)
			}},
		{name: "read a data type", fn: model.FnGetDataType, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnGetDataType, "edu.degree")
			}},
		{name: "list data types", fn: model.FnListDataTypes, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListDataTypes)
			}},
		{name: "not found", want: want{code: codes.Unknown, message: "evaluate call to endorser returned error: chaincode response 500, NOT_FOUND: data type edu.nothing does not exist"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetDataType, "edu.nothing")
			}},

		// --- eIDs ---
		{name: "create an eID", fn: model.FnCreateEID, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				o := submit(ctx, tg, tg.agent, model.FnCreateEID, jsonArg([]model.BlindedIndex{blind("alice-card")}))
				var id model.Identity
				_ = json.Unmarshal(tg.lastResult, &id)
				tg.eid = id.ID
				return o
			}},
		{name: "create eIDs in bulk", fn: model.FnCreateEIDs, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				o := submit(ctx, tg, tg.agent, model.FnCreateEIDs, jsonArg([]model.EIDRequest{
					{Ref: "r1", Indexes: []model.BlindedIndex{blind("bob-card")}}, {Ref: "r2", Indexes: []model.BlindedIndex{blind("alice-card")}},
				}))
				var out []model.EIDOutcome
				_ = json.Unmarshal(tg.lastResult, &out)
				if len(out) > 0 {
					tg.other = out[0].EID
				}
				return o
			}},
		{name: "add a document index", fn: model.FnAddDocumentIndex, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAddDocumentIndex, tg.eid, jsonArg(blind("alice-passport")))
			}},
		{name: "look up an index", fn: model.FnLookupIndex, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				b := blind("alice-passport")
				return evaluate(ctx, tg, tg.agent, model.FnLookupIndex, b.KeyVersion, b.Value)
			}},
		{name: "remove a document index", fn: model.FnRemoveDocumentIndex, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRemoveDocumentIndex, tg.eid, jsonArg(blind("alice-passport")))
			}},
		{name: "read an eID", fn: model.FnGetEID, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetEID, tg.eid)
			}},
		{name: "resolve a DID", fn: model.FnResolveDID, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnResolveDID, tg.eid)
			}},
		{name: "wrong argument count", want: want{code: codes.Unknown, message: "evaluate call to endorser returned error: chaincode response 500, incorrect number of params. Expected 1, received 0"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetEID)
			}},
		{name: "malformed JSON argument", want: want{code: codes.Aborted, message: endorseFailed, detail: "INVALID:"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnCreateEID, `[{"key_version":`)
			}},

		// --- account links ---
		{name: "link an account", fn: model.FnLinkAccount, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.dept, model.FnLinkAccount, tg.eid, "edu-bureau", strings.Repeat("ab", 32))
			}},
		{name: "look up an account", fn: model.FnLookupAccount, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnLookupAccount, "edu-bureau", strings.Repeat("ab", 32))
			}},
		{name: "list links", fn: model.FnListLinks, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListLinks, tg.eid)
			}},
		{name: "unlink an account", fn: model.FnUnlinkAccount, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnUnlinkAccount, tg.eid, "edu-bureau")
			}},

		// --- routes ---
		{name: "publish a route", fn: model.FnPublishRoute, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.dept, model.FnPublishRoute, route(tg, 1, "1"))
			}},
		{name: "publish routes", fn: model.FnPublishRoutes, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnPublishRoutes, "["+route(tg, 2, "2")+"]")
			}},
		{name: "read routes", fn: model.FnGetRoutes, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetRoutes, tg.eid, "edu.degree")
			}},
		{name: "revoke a route", fn: model.FnRevokeRoute, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.dept, model.FnRevokeRoute, tg.eid, "edu.degree", "edu-bureau", "superseded")
			}},
		{name: "route history", fn: model.FnGetRouteHistory, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetRouteHistory, tg.eid, "edu.degree", "edu-bureau")
			}},

		// --- consents ---
		{name: "request a consent", fn: model.FnRequestConsent, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				o, st := submitTx(ctx, tg, tg.agent, model.FnRequestConsent, consentRequest(tg))
				if st != nil {
					tg.checkpointBlock, tg.checkpointTx = st.BlockNumber, st.TransactionID
				}
				tg.consent = consentID(tg.lastResult)
				return o
			}},
		{name: "grant a consent", fn: model.FnGrantConsent, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnGrantConsent, tg.consent, "portal")
			}},
		{name: "deny a consent", fn: model.FnDenyConsent, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.agent, model.FnRequestConsent, consentRequest(tg))
				tg.denied = consentID(tg.lastResult)
				return submit(ctx, tg, tg.agent, model.FnDenyConsent, tg.denied, "portal")
			}},
		{name: "register a resident's passkey", fn: model.FnRegisterPasskey, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRegisterPasskey, jsonArg(model.PasskeyRegistration{
					EID: tg.eid, CredentialID: passkey.IDString(), PublicKeyJWK: passkey.JWK(), RPID: "localhost"}))
			}},
		{name: "a department reads the resident's passkeys", fn: model.FnListPasskeys, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnListPasskeys, tg.eid)
			}},
		{name: "grant a consent with the resident's passkey", fn: model.FnGrantConsentSigned, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.agent, model.FnRequestConsent, consentRequest(tg))
				_ = json.Unmarshal(tg.lastResult, &tg.signed)
				return submit(ctx, tg, tg.agent, model.FnGrantConsentSigned, tg.signed.ID, approve(tg, model.StatementConsentGrant, tg.signed))
			}},
		{name: "a signature over other terms is refused", want: want{code: codes.Aborted, message: endorseFailed, detail: "INVALID: approval: " + model.AssertionWrongChallenge},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				other := tg.signed
				other.MaxUses++
				return submit(ctx, tg, tg.agent, model.FnRevokeConsentSigned, tg.signed.ID, approve(tg, model.StatementConsentRevoke, other))
			}},
		{name: "revoke a consent with the resident's passkey", fn: model.FnRevokeConsentSigned, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRevokeConsentSigned, tg.signed.ID, approve(tg, model.StatementConsentRevoke, tg.signed))
			}},
		{name: "create a standing rule with the resident's passkey", fn: model.FnCreateStandingRuleSigned, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				d := ruleDraft(tg)
				tg.ruleDraft = d
				o := submit(ctx, tg, tg.agent, model.FnCreateStandingRuleSigned, jsonArg(d), approveRule(tg, model.StatementRuleCreate, draftTerms(d)))
				_ = json.Unmarshal(tg.lastResult, &tg.signedRule)
				return o
			}},
		{name: "one signature creates one standing rule", want: want{code: codes.Aborted, message: endorseFailed, detail: "CONFLICT: this signature already created standing rule"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				d := tg.ruleDraft
				return submit(ctx, tg, tg.agent, model.FnCreateStandingRuleSigned, jsonArg(d), approveRule(tg, model.StatementRuleCreate, draftTerms(d)))
			}},
		{name: "a rule signature over other terms is refused", want: want{code: codes.Aborted, message: endorseFailed, detail: "INVALID: approval: " + model.AssertionWrongChallenge},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				d := tg.ruleDraft
				wider := d
				wider.MaxUses = 0
				return submit(ctx, tg, tg.agent, model.FnCreateStandingRuleSigned, jsonArg(wider), approveRule(tg, model.StatementRuleCreate, draftTerms(d)))
			}},
		{name: "a department a rule does not name may not read it", want: want{code: codes.Unknown, message: "FORBIDDEN:"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnGetStandingRule, tg.signedRule.ID)
			}},
		{name: "read a standing rule", fn: model.FnGetStandingRule, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetStandingRule, tg.signedRule.ID)
			}},
		{name: "revoke a standing rule with the resident's passkey", fn: model.FnRevokeStandingRuleSigned, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRevokeStandingRuleSigned, tg.signedRule.ID, approveRule(tg, model.StatementRuleRevoke, tg.signedRule))
			}},
		{name: "retire the resident's passkeys", fn: model.FnRetirePasskeys, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRetirePasskeys, tg.eid, "[]", "lost")
			}},
		{name: "read a consent", fn: model.FnGetConsent, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetConsent, tg.consent)
			}},
		{name: "a department outside the consent may not read it", want: want{code: codes.Unknown, message: "FORBIDDEN:"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnGetConsent, tg.consent)
			}},
		{name: "consents of an eID", fn: model.FnListConsentsByEID, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListConsentsByEID, tg.eid)
			}},
		{name: "consents of a requester", fn: model.FnListConsentsByRequester, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListConsentsByRequester, "civil-affairs")
			}},

		// --- anchors ---
		{name: "anchor an access batch", fn: model.FnAnchorAccessBatch, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAnchorAccessBatch, jsonArg(model.AccessAnchor{BatchID: "ab-1-2", MerkleRoot: strings.Repeat("c", 64),
					Count: 2, FirstSeq: 1, LastSeq: 2, ConsentUses: []model.ConsentUse{{ConsentID: tg.consent, Uses: 2}}}))
			}},
		{name: "read an anchor", fn: model.FnGetAnchor, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetAnchor, "ab-1-2")
			}},
		{name: "anchor a batch with break-glass accesses", fn: model.FnAnchorAccessBatch, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAnchorAccessBatch, jsonArg(model.AccessAnchor{BatchID: "ab-3-4", MerkleRoot: strings.Repeat("d", 64),
					Count: 2, FirstSeq: 3, LastSeq: 4, BreakGlass: []string{"acc_00000000000000000000000000000003"}}))
			}},
		{name: "read the break-glass list of an anchor", fn: model.FnGetAnchor, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetAnchor, "ab-3-4")
			}},
		{name: "a break-glass access listed twice is refused", want: want{code: codes.Aborted, message: endorseFailed, detail: "INVALID: break_glass[1]"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAnchorAccessBatch, jsonArg(model.AccessAnchor{BatchID: "ab-5-6", MerkleRoot: strings.Repeat("e", 64),
					Count: 2, FirstSeq: 5, LastSeq: 6, BreakGlass: []string{"acc_00000000000000000000000000000005", "acc_00000000000000000000000000000005"}}))
			}},
		// --- issuer keys and status lists ---
		{name: "the issuing department anchors its status list", fn: model.FnAnchorStatusList, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.dept, model.FnAnchorStatusList, jsonArg(model.StatusListAnchor{Issuer: "edu-bureau", ListID: "r1",
					Purpose: model.StatusRevocation, Version: 1, Digest: "sha256:" + strings.Repeat("e", 64), Size: model.MinStatusListSize}))
			}},
		{name: "read a status list anchor", fn: model.FnGetStatusListAnchor, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetStatusListAnchor, "edu-bureau", "r1")
			}},
		{name: "revoke a department key", fn: model.FnRevokeSigningKey, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				c := civil
				c.NameEN = "Civil Affairs Bureau"
				c.SigningKeys = []model.SigningKey{{KID: "k9", PublicKeyPEM: pub}}
				submit(ctx, tg, tg.admin, model.FnUpdateDepartment, jsonArg(c))
				return submit(ctx, tg, tg.admin, model.FnRevokeSigningKey, "civil-affairs", "k9", "key file leaked")
			}},
		{name: "revoke a consent", fn: model.FnRevokeConsent, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRevokeConsent, tg.consent)
			}},
		{name: "expire consents (none due)", fn: model.FnExpireConsents, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnExpireConsents, jsonArg([]string{tg.consent, tg.denied}))
			}},
		// --- standing rules ---
		{name: "create a standing rule", fn: model.FnCreateStandingRule, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				o := submit(ctx, tg, tg.agent, model.FnCreateStandingRule, jsonArg(model.RuleDraft{EID: tg.eid,
					Departments: []string{"civil-affairs"}, DataTypes: []string{"edu.degree"}, PurposeCode: "social_assistance",
					ValidUntil: "2030-01-01T00:00:00Z", MaxUses: 3}))
				var r model.StandingRule
				_ = json.Unmarshal(tg.lastResult, &r)
				tg.rule = r.ID
				return o
			}},
		{name: "a department may not create a standing rule", want: want{code: codes.Aborted, message: endorseFailed, detail: "FORBIDDEN: CreateStandingRule requires the agent role"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.dept, model.FnCreateStandingRule, jsonArg(model.RuleDraft{EID: tg.eid,
					Departments: []string{"edu-bureau"}, DataTypes: []string{"edu.degree"}, PurposeCode: "admission", ValidUntil: "2030-01-01T00:00:00Z"}))
			}},
		{name: "standing rules of an eID", fn: model.FnListStandingRulesByEID, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListStandingRulesByEID, tg.eid)
			}},
		{name: "revoke a standing rule", fn: model.FnRevokeStandingRule, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRevokeStandingRule, tg.rule)
			}},
		{name: "revoking a standing rule twice conflicts", want: want{code: codes.Aborted, message: endorseFailed, detail: "is revoked, not active"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRevokeStandingRule, tg.rule)
			}},
		// --- disputes ---
		{name: "raise a dispute of an anchored access", fn: model.FnRaiseDispute, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				o := submit(ctx, tg, tg.agent, model.FnRaiseDispute, jsonArg(model.DisputeDraft{AccessID: "acc_" + strings.Repeat("d", 32),
					EID: tg.eid, Department: "edu-bureau", BatchID: "ab-1-2", LeafHash: strings.Repeat("e", 64), Reason: "unexpected",
					TextDigest: strings.Repeat("f", 64)}))
				var d model.Dispute
				_ = json.Unmarshal(tg.lastResult, &d)
				tg.dispute = d.ID
				return o
			}},
		{name: "a second open dispute of one access conflicts", want: want{code: codes.Aborted, message: endorseFailed, detail: "already has dispute"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRaiseDispute, jsonArg(model.DisputeDraft{AccessID: "acc_" + strings.Repeat("d", 32),
					EID: tg.eid, Department: "edu-bureau", BatchID: "ab-1-2", LeafHash: strings.Repeat("e", 64), Reason: "other"}))
			}},
		{name: "a dispute needs an anchored batch", want: want{code: codes.Aborted, message: endorseFailed, detail: "batch nope-1 is not anchored"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRaiseDispute, jsonArg(model.DisputeDraft{AccessID: "acc_" + strings.Repeat("a", 32),
					EID: tg.eid, Department: "edu-bureau", BatchID: "nope-1", LeafHash: strings.Repeat("e", 64), Reason: "other"}))
			}},
		{name: "another department may not answer a dispute", want: want{code: codes.Aborted, message: endorseFailed, detail: "FORBIDDEN: dispute"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAnswerDispute, jsonArg(model.DisputeAnswer{ID: tg.dispute, Department: "civil-affairs",
					Official: "official-1", AnswerDigest: strings.Repeat("1", 64)}))
			}},
		{name: "answer a dispute", fn: model.FnAnswerDispute, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAnswerDispute, jsonArg(model.DisputeAnswer{ID: tg.dispute, Department: "edu-bureau",
					Official: "official-1", AnswerDigest: strings.Repeat("1", 64)}))
			}},
		{name: "close a dispute", fn: model.FnCloseDispute, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnCloseDispute, jsonArg(model.DisputeClosing{ID: tg.dispute, Outcome: model.DisputeDismissed,
					Official: "official-2", OutcomeDigest: strings.Repeat("2", 64)}))
			}},
		{name: "answering a closed dispute conflicts", want: want{code: codes.Aborted, message: endorseFailed, detail: "is closed, not open"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnAnswerDispute, jsonArg(model.DisputeAnswer{ID: tg.dispute, Department: "edu-bureau",
					Official: "official-1", AnswerDigest: strings.Repeat("3", 64)}))
			}},
		{name: "read a dispute", fn: model.FnGetDispute, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.admin, model.FnGetDispute, tg.dispute)
			}},
		{name: "disputes of an eID", fn: model.FnListDisputesByEID, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListDisputesByEID, tg.eid)
			}},
		{name: "a department reads the disputes of its accesses", fn: model.FnListDisputesByDepartment, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnListDisputesByDepartment, "edu-bureau")
			}},
		{name: "a department may not read another's disputes", want: want{code: codes.Unknown, message: "department edu-bureau may not call ListDisputesByDepartment for department civil-affairs"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnListDisputesByDepartment, "civil-affairs")
			}},
		// --- representations ---
		{name: "register a parent's relation to a minor", fn: model.FnRegisterRepresentation, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.agent, model.FnRegisterPasskey, jsonArg(model.PasskeyRegistration{
					EID: tg.other, CredentialID: guardianKey.IDString(), PublicKeyJWK: guardianKey.JWK(), RPID: "localhost"}))
				o := submit(ctx, tg, tg.admin, model.FnRegisterRepresentation, relation(tg, tg.eid, tg.other))
				var r model.Representation
				_ = json.Unmarshal(tg.lastResult, &r)
				tg.rep = r.ID
				return o
			}},
		{name: "a relation to oneself conflicts", want: want{code: codes.Aborted, message: endorseFailed, detail: "CONFLICT: representation_self"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRegisterRepresentation, relation(tg, tg.eid, tg.eid))
			}},
		{name: "an overlapping relation conflicts", want: want{code: codes.Aborted, message: endorseFailed, detail: "CONFLICT: representation_overlap"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnRegisterRepresentation, relation(tg, tg.eid, tg.other))
			}},
		{name: "a department may not read relations", want: want{code: codes.Unknown, message: "FORBIDDEN:"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.dept, model.FnGetRepresentation, tg.rep)
			}},
		{name: "read a relation", fn: model.FnGetRepresentation, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnGetRepresentation, tg.rep)
			}},
		{name: "relations of a ward", fn: model.FnListRepresentationsByWard, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, model.FnListRepresentationsByWard, tg.eid)
			}},
		{name: "relations of a guardian", fn: model.FnListRepresentationsByGuardian, want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.admin, model.FnListRepresentationsByGuardian, tg.other)
			}},
		{name: "the guardian grants the ward's consent with their passkey", want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.agent, model.FnRequestConsent, consentRequest(tg))
				var cs model.Consent
				_ = json.Unmarshal(tg.lastResult, &cs)
				return submit(ctx, tg, tg.agent, model.FnGrantConsentSigned, cs.ID, approveAsGuardian(tg, model.StatementConsentGrant, cs))
			}},
		{name: "the guardian denies for the ward", fn: model.FnDenyConsentForWard, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.agent, model.FnRequestConsent, consentRequest(tg))
				return submit(ctx, tg, tg.agent, model.FnDenyConsentForWard, consentID(tg.lastResult), tg.rep, tg.other)
			}},
		{name: "end a relation", fn: model.FnEndRepresentation, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnEndRepresentation, tg.rep, "custody transferred", "officer.li")
			}},
		{name: "a guardian under an ended relation is refused", want: want{code: codes.Aborted, message: endorseFailed, detail: "FORBIDDEN: representation_ended"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				submit(ctx, tg, tg.agent, model.FnRequestConsent, consentRequest(tg))
				return submit(ctx, tg, tg.agent, model.FnDenyConsentForWard, consentID(tg.lastResult), tg.rep, tg.other)
			}},
		{name: "merge eIDs", fn: model.FnMergeEID, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnMergeEID, tg.other, tg.eid, "duplicate registration")
			}},
		{name: "deactivate an eID", fn: model.FnDeactivateEID, want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return submit(ctx, tg, tg.agent, model.FnDeactivateEID, tg.eid, "deceased")
			}},

		// --- events ---
		{name: "events from a checkpoint", want: ok,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return tg.eventsBetween(ctx, tg.checkpointBlock, tg.checkpointTx, tg.lastTx)
			}},
		{name: "events from the chain's height: the next commit's, none before", want: valid,
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				// A listener whose cache starts empty starts here (SkipHistoryBefore).
				height, err := tg.agent.BlockHeight(ctx)
				if err != nil {
					return tg.norm.failure(err)
				}
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				stream, err := rawEvents(ctx, tg, tg.agent.Network().Name(), client.WithStartBlock(height))
				if err != nil {
					return tg.norm.failure(err)
				}
				_, st, err := commitHarmless(ctx, t, tg)
				if err != nil {
					return tg.norm.failure(err)
				}
				resp, err := stream.Recv()
				if err != nil {
					return tg.norm.failure(err)
				}
				o := outcome{Code: codes.OK.String(), Commit: st.Code.String()}
				if resp.GetBlockNumber() != st.BlockNumber {
					o.Code = fmt.Sprintf("first events from block %d, not the commit's %d", resp.GetBlockNumber(), st.BlockNumber)
				}
				for _, ev := range resp.GetEvents() {
					o.Events = append(o.Events, ev.GetEventName()+" "+tg.norm.json(ev.GetPayload()))
				}
				return o
			}},
		{name: "events on an unknown channel", want: want{code: codes.PermissionDenied, message: "Failed to get policy manager for channel [nochannel]"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				stream, err := rawEvents(ctx, tg, "nochannel")
				if err == nil {
					_, err = stream.Recv()
				}
				return tg.norm.failure(err)
			}},

		// --- the protocol's refusals ---
		{name: "unknown function", want: want{code: codes.Unknown, message: "evaluate call to endorser returned error: chaincode response 500, Function Nope not found in contract eidgate"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				return evaluate(ctx, tg, tg.agent, "Nope")
			}},
		{name: "unknown chaincode: evaluate", want: want{code: codes.FailedPrecondition, message: "no peers available to evaluate chaincode nope in channel eidgate"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				p, _ := tg.agent.Network().GetContract("nope").NewProposal("Get")
				_, err := p.EvaluateWithContext(ctx)
				return tg.norm.failure(err)
			}},
		{name: "unknown chaincode: endorse", want: want{code: codes.FailedPrecondition, message: "no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode nope in channel eidgate"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				p, _ := tg.agent.Network().GetContract("nope").NewProposal("Put")
				_, err := p.EndorseWithContext(ctx)
				return tg.norm.failure(err)
			}},
		{name: "unknown channel: evaluate", want: want{code: codes.Unavailable, message: "failed to get config for channel [nochannel]"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				p, _ := tg.agent.Gateway().GetNetwork("nochannel").GetContract(devnet.DefaultChaincode).NewProposal(model.FnListDepartments)
				_, err := p.EvaluateWithContext(ctx)
				return tg.norm.failure(err)
			}},
		{name: "unknown channel: endorse", want: want{code: codes.FailedPrecondition, message: "no combination of peers can be derived which satisfy the endorsement policy"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				p, _ := tg.agent.Gateway().GetNetwork("nochannel").GetContract(devnet.DefaultChaincode).NewProposal(model.FnUpdateDataType, client.WithArguments(jsonArg(degreeEN)))
				_, err := p.EndorseWithContext(ctx)
				return tg.norm.failure(err)
			}},
		{name: "unknown channel: commit status", want: want{code: codes.PermissionDenied, message: "Failed to get policy manager for channel [nochannel]"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				commit, err := tg.agent.Gateway().NewCommit(commitBytes(t, tg, "nochannel"))
				if err != nil {
					t.Fatal(err)
				}
				_, err = commit.StatusWithContext(ctx)
				return tg.norm.failure(err)
			}},
		{name: "duplicate transaction: the same proposal endorsed again", want: want{code: codes.Aborted, message: endorseFailed, detail: "duplicate transaction found [<tx>]. Creator [<creator>]"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				p := harmless(t, tg)
				tx, err := p.EndorseWithContext(ctx)
				if err != nil {
					return tg.norm.failure(err)
				}
				if _, err := submitAndWait(ctx, tx); err != nil {
					return tg.norm.failure(err)
				}
				_, err = p.EndorseWithContext(ctx)
				return tg.norm.failure(err)
			}},
		{name: "duplicate transaction: the same transaction submitted again", want: want{code: codes.OK, commit: "VALID"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				tx, st1, err := commitHarmless(ctx, t, tg)
				if err != nil {
					return tg.norm.failure(err)
				}
				st2, err := submitAndWait(ctx, tx)
				if err != nil {
					return tg.norm.failure(err)
				}
				if st2.BlockNumber != st1.BlockNumber {
					return outcome{Code: "second status from another block"}
				}
				return outcome{Code: codes.OK.String(), Commit: st2.Code.String(), Events: tg.eventsOf(ctx, st2.BlockNumber, st2.TransactionID)}
			}},
		{name: "a certificate the named MSP did not issue", want: want{code: codes.FailedPrecondition,
			message: "evaluate call to endorser returned error: error validating proposal: access denied: channel [eidgate] creator org unknown, creator is malformed"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				id := rogue(t, devnet.DefaultPlatformMSPID)
				xid, err := identity.NewX509Identity(id.MSPID, id.Cert)
				if err != nil {
					t.Fatal(err)
				}
				sign, err := identity.NewPrivateKeySign(id.Key)
				if err != nil {
					t.Fatal(err)
				}
				gw, err := client.Connect(xid, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(tg.agent.Conn()))
				if err != nil {
					t.Fatal(err)
				}
				defer gw.Close()
				_, err = gw.GetNetwork(tg.agent.Network().Name()).GetContract(devnet.DefaultChaincode).EvaluateWithContext(ctx, model.FnListDepartments)
				return tg.norm.failure(err)
			}},
		{name: "an endorsement policy no set of live peers satisfies", want: want{code: codes.FailedPrecondition,
			message: "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy"},
			run: func(ctx context.Context, t *testing.T, tg *conformanceTarget) outcome {
				tg.stopPeers(t)
				o := eventually(ctx, tg, codes.FailedPrecondition, func() outcome {
					return submit(ctx, tg, tg.admin, model.FnUpdateDataType, jsonArg(degreeEN))
				})
				tg.startPeers(t)
				back := eventually(ctx, tg, codes.OK, func() outcome {
					return submit(ctx, tg, tg.admin, model.FnUpdateDataType, jsonArg(degreeEN))
				})
				if back.Code != codes.OK.String() {
					t.Errorf("%s: writes did not resume after the peers returned: %s", tg.name, back)
				}
				return o
			}},
	}
}

// submitAndWait submits an endorsed transaction and waits for its commit
// status.
func submitAndWait(ctx context.Context, tx *client.Transaction) (*client.Status, error) {
	commit, err := tx.SubmitWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return commit.StatusWithContext(ctx)
}

// commitHarmless endorses the harmless write, submits it and waits for its
// commit; the transaction is returned for rows that submit it again.
func commitHarmless(ctx context.Context, t *testing.T, tg *conformanceTarget) (*client.Transaction, *client.Status, error) {
	tx, err := harmless(t, tg).EndorseWithContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	st, err := submitAndWait(ctx, tx)
	return tx, st, err
}

// harmless is a proposal of a valid write that changes nothing: the data
// type as the table last wrote it.
func harmless(t *testing.T, tg *conformanceTarget) *client.Proposal {
	t.Helper()
	p, err := tg.admin.Network().GetContract(devnet.DefaultChaincode).NewProposal(model.FnUpdateDataType, client.WithArguments(tg.degreeEN))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// consentID is the id of a consent result.
func consentID(raw []byte) string {
	var c model.Consent
	_ = json.Unmarshal(raw, &c)
	return c.ID
}

// commitBytes is a commit-status request of the agent for a transaction
// id on channel, ready for Gateway.NewCommit.
func commitBytes(t *testing.T, tg *conformanceTarget, channel string) []byte {
	t.Helper()
	id := tg.agent.Gateway().Identity()
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: id.MspID(), IdBytes: id.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	req, err := proto.Marshal(&gateway.CommitStatusRequest{TransactionId: strings.Repeat("ab", 32), ChannelId: channel, Identity: creator})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := proto.Marshal(&gateway.SignedCommitStatusRequest{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
