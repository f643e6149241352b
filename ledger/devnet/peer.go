package devnet

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer/lifecycle"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ledgerDir is the ledger database in the data directory; ledgerFileV1
// the single-file ledger of earlier versions, converted on first open.
const (
	ledgerDir    = "ledger"
	ledgerFileV1 = "ledger.db"
)

// Peer is a running devnet: one peer with the Fabric Gateway service, its
// endorser and committer, and a single ordering node, over one channel.
type Peer struct {
	cfg     Config
	crypto  cryptoDir
	orgs    map[string]*orgCrypto // by organisation id
	peer    *signer
	ordSign *signer
	admin   *signer
	// endorsers are the peers that endorse: the platform's first, then the
	// department organisations configured with a peer.
	endorsers []*endorserPeer
	endpoint  string // the peer address reported in error details
	tlsCA     string // path of the platform TLS CA certificate
	ccs       map[string]shim.Chaincode
	chain     *chain
	orderer   *orderer
	// work bounds the proposals processed at once to the CPUs available:
	// chaincode runs in this process, and more runnable goroutines than
	// CPUs only stretch every simulation (and its tail latency).
	work chan struct{}

	tcp       net.Listener
	tcpServer *grpc.Server

	issueMu   sync.Mutex
	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
	serveWG   sync.WaitGroup
}

// Exists reports whether dataDir holds a devnet ledger (one Open made
// before), so tools can refuse to create one implicitly.
func Exists(dataDir string) bool {
	if st, err := os.Stat(filepath.Join(dataDir, ledgerDir)); err == nil && st.IsDir() {
		return true
	}
	st, err := os.Stat(filepath.Join(dataDir, ledgerFileV1))
	return err == nil && st.Mode().IsRegular()
}

// Open starts a devnet on cfg.DataDir: it creates the dev crypto material
// and the channel's genesis block on first use, defines the configured
// chaincodes, verifies the chain tip of an existing ledger, and serves the
// gateway service in process and, when cfg.Listen is set, over TLS.
func Open(ctx context.Context, cfg Config) (*Peer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.ProfileChaincode == "" {
		cfg.ProfileChaincode = "eidgate"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("devnet data dir: %w", err)
	}
	p := &Peer{
		cfg:     cfg,
		crypto:  cryptoDir{root: filepath.Join(cfg.DataDir, "crypto")},
		orgs:    map[string]*orgCrypto{},
		ccs:     cfg.Chaincodes,
		work:    make(chan struct{}, runtime.GOMAXPROCS(0)),
		closing: make(chan struct{}),
	}
	if err := p.loadCrypto(); err != nil {
		return nil, err
	}
	if err := p.loadEndorsers(); err != nil {
		return nil, err
	}
	if err := p.openChain(ctx); err != nil {
		return nil, err
	}
	if err := p.serve(); err != nil {
		p.orderer.close()
		_ = p.chain.db.Close()
		return nil, err
	}
	return p, nil
}

func (p *Peer) loadCrypto() error {
	if err := os.MkdirAll(p.crypto.root, 0o755); err != nil {
		return err
	}
	if err := p.crypto.removeTemporaries(); err != nil {
		return fmt.Errorf("devnet crypto: %w", err)
	}
	platform, err := p.crypto.ensureOrg(PlatformOrg, p.cfg.PlatformMSPID, func(tmp string, o *orgCrypto) error {
		if err := writeNode(filepath.Join(tmp, "peers", peerName), o, peerName, devcrypto.OUPeer); err != nil {
			return err
		}
		if err := writeNode(filepath.Join(tmp, "orderers", ordererName), o, ordererName, devcrypto.OUOrderer); err != nil {
			return err
		}
		if err := writeUser(filepath.Join(tmp, "users", AdminName), o, AdminName, devcrypto.OUAdmin, map[string]string{AttrRole: "admin"}); err != nil {
			return err
		}
		return writeUser(filepath.Join(tmp, "users", AgentName), o, AgentName, devcrypto.OUClient, map[string]string{AttrRole: "agent"})
	})
	if err != nil {
		return err
	}
	p.orgs[PlatformOrg] = platform
	for _, oc := range p.cfg.Orgs {
		o, err := p.crypto.ensureOrg(oc.ID, oc.MSPID, func(tmp string, o *orgCrypto) error {
			return writeUser(filepath.Join(tmp, "users", DepartmentSystemName), o, DepartmentSystemName, devcrypto.OUClient, departmentAttrs(oc.ID))
		})
		if err != nil {
			return err
		}
		if o.mspID != oc.MSPID {
			return fmt.Errorf("devnet: organisation %s was created as %s, not %s", oc.ID, o.mspID, oc.MSPID)
		}
		p.orgs[oc.ID] = o
	}
	load := func(dir string) (*signer, error) {
		id, err := devcrypto.LoadIdentity(dir, platform.mspID)
		if err != nil {
			return nil, fmt.Errorf("devnet identity %s: %w", dir, err)
		}
		return &signer{key: id.Key, serialized: mustMarshal(&msp.SerializedIdentity{Mspid: platform.mspID, IdBytes: id.CertPEM})}, nil
	}
	if p.peer, err = load(filepath.Join(platform.dir, "peers", peerName, "msp")); err != nil {
		return err
	}
	if p.ordSign, err = load(filepath.Join(platform.dir, "orderers", ordererName, "msp")); err != nil {
		return err
	}
	if p.admin, err = load(filepath.Join(platform.dir, "users", AdminName, "msp")); err != nil {
		return err
	}
	p.tlsCA = filepath.Join(platform.dir, "tlsca", "ca.pem")
	return nil
}

func departmentAttrs(id string) map[string]string {
	return map[string]string{AttrRole: "department", AttrDepartment: id}
}

// apps are the channel's application organisations, platform first.
func (p *Peer) apps() []orgMaterial {
	out := []orgMaterial{p.orgs[PlatformOrg].material()}
	for _, oc := range p.cfg.Orgs {
		out = append(out, p.orgs[oc.ID].material())
	}
	return out
}

func (p *Peer) channelParams() channelParams {
	return channelParams{channel: p.cfg.Channel, ordererAddr: p.endpointGuess(), batchTimeout: p.cfg.BatchTimeout, maxBatch: p.cfg.MaxBatch}
}

func (p *Peer) endpointGuess() string {
	if p.cfg.Listen != "" {
		return p.cfg.Listen
	}
	return peerName + "." + orgDomain(PlatformOrg) + ":7051"
}

// openChain opens the ledger, creating the genesis block on first use,
// brings the channel configuration and chaincode definitions up to date
// with cfg, and starts ordering.
func (p *Peer) openChain(ctx context.Context) error {
	if err := convertV1Ledger(p.cfg.DataDir, p.cfg.Logger); err != nil {
		return err
	}
	db, err := openLedger(filepath.Join(p.cfg.DataDir, ledgerDir), false, p.cfg.Logger)
	if err != nil {
		return err
	}
	p.chain = &chain{
		db: db, channel: p.cfg.Channel, platformMSP: p.cfg.PlatformMSPID, orderer: p.ordSign,
		memo: newEndorsementMemo(), log: p.cfg.Logger,
		defs: map[string]*definition{}, changed: make(chan struct{}), closed: p.closing,
		waiters: map[string][]chan txStatus{},
	}
	fail := func(err error) error {
		_ = db.Close()
		return err
	}
	if err := loadChain(p.chain); err != nil {
		return fail(fmt.Errorf("devnet ledger %s: %w", p.cfg.DataDir, err))
	}
	if p.chain.tip.height == 0 {
		cfg := buildChannelConfig(0, p.channelParams(), p.apps(), p.orgs[PlatformOrg].material())
		raw, err := p.configEnvelope(cfg)
		if err != nil {
			return fail(err)
		}
		if _, err := p.chain.commit([]*txCheck{{raw: raw, typ: common.HeaderType_CONFIG, config: cfg}}, time.Now()); err != nil {
			return fail(fmt.Errorf("devnet genesis block: %w", err))
		}
		p.cfg.Logger.Info("devnet channel created", "channel", p.cfg.Channel)
	}
	_, members, defs, seq := p.chain.snapshot()
	if !sameOrgs(members, p.apps()) {
		cfg := buildChannelConfig(seq+1, p.channelParams(), p.apps(), p.orgs[PlatformOrg].material())
		raw, err := p.configEnvelope(cfg)
		if err != nil {
			return fail(err)
		}
		if err := p.commitChecked(raw); err != nil {
			return fail(fmt.Errorf("devnet channel configuration update: %w", err))
		}
	}
	// Define the configured chaincodes that are not defined yet, and
	// redefine (next sequence) those defined under another endorsement
	// policy than the configuration asks for.
	var missing []string
	for name := range p.ccs {
		if d := defs[name]; d == nil || !d.samePolicy(p.wantDefinition(name, d.sequence)) {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		var raws [][]byte
		for _, name := range missing {
			raw, err := p.definitionTx(name, defs[name])
			if err != nil {
				return fail(err)
			}
			raws = append(raws, raw)
		}
		if err := p.commitChecked(raws...); err != nil {
			return fail(fmt.Errorf("devnet chaincode definitions: %w", err))
		}
		p.cfg.Logger.Info("devnet chaincodes defined", "chaincodes", missing, "endorsement", p.cfg.Endorsement)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	p.orderer = newOrderer(p.cfg.BatchTimeout, p.cfg.MaxBatch, func(batch []*txCheck) {
		if _, err := p.chain.commit(batch, time.Now()); err != nil {
			p.cfg.Logger.Error("devnet commit failed", "err", err)
		}
	})
	go p.orderer.run()
	return nil
}

// commitChecked validates envelopes the peer built itself and commits them
// in one block, requiring every one to be valid.
func (p *Peer) commitChecked(raws ...[]byte) error {
	vc := p.chain.validationCtx(time.Now(), p.chain.memo)
	checks := make([]*txCheck, len(raws))
	for i, raw := range raws {
		checks[i] = vc.check(raw, false)
	}
	block, err := p.chain.commit(checks, time.Now())
	if err != nil {
		return err
	}
	for i, code := range block.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER] {
		if peer.TxValidationCode(code) != peer.TxValidationCode_VALID {
			return fmt.Errorf("transaction %d of block %d is %s", i, block.GetHeader().GetNumber(), peer.TxValidationCode(code))
		}
	}
	return nil
}

// configEnvelope is a CONFIG transaction signed by the ordering node.
func (p *Peer) configEnvelope(cfg *common.Config) ([]byte, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	payload := mustMarshal(&common.Payload{
		Header: &common.Header{
			ChannelHeader: mustMarshal(&common.ChannelHeader{
				Type: int32(common.HeaderType_CONFIG), ChannelId: p.cfg.Channel, Timestamp: timestamppb.Now(),
			}),
			SignatureHeader: mustMarshal(&common.SignatureHeader{Creator: p.ordSign.serialized, Nonce: nonce}),
		},
		Data: mustMarshal(&common.ConfigEnvelope{Config: cfg}),
	})
	sig, err := p.ordSign.sign(payload)
	if err != nil {
		return nil, err
	}
	return mustMarshal(&common.Envelope{Payload: payload, Signature: sig}), nil
}

// wantDefinition is the definition the configuration asks for, one
// sequence after prev.
func (p *Peer) wantDefinition(name string, prev int64) *definition {
	d := &definition{name: name, version: DefinitionVersion, sequence: prev + 1}
	if p.cfg.Endorsement == EndorseMajority {
		d.policyRef = channelEndorsementPolicy
	} else {
		d.policy = endorsementPolicy(p.cfg.PlatformMSPID)
	}
	return d
}

// definitionTx is the _lifecycle transaction committing the definition of
// a chaincode at the sequence after prev (nil: sequence 1): proposed and
// signed by the platform admin, endorsed by the platform peer.
func (p *Peer) definitionTx(name string, prev *definition) ([]byte, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	seqRead := &kvrwset.KVRead{Key: sequenceKey(name)}
	var prevSeq int64
	if prev != nil {
		prevSeq = prev.sequence
		if err := p.chain.db.View(func(tx *kvTx) error {
			vv, err := kvState{tx.Bucket(bucketState)}.Get(lifecycleNamespace, sequenceKey(name))
			if err == nil && vv != nil {
				seqRead.Version = &kvrwset.Version{BlockNum: vv.Version.Block, TxNum: vv.Version.Tx}
			}
			return err
		}); err != nil {
			return nil, err
		}
	}
	d := p.wantDefinition(name, prevSeq)
	args := &lifecycle.CommitChaincodeDefinitionArgs{
		Sequence: d.sequence, Name: name, Version: d.version, EndorsementPlugin: "escc", ValidationPlugin: "vscc",
		ValidationParameter: d.validationParameter(),
	}
	hdr := &common.Header{
		ChannelHeader: mustMarshal(&common.ChannelHeader{
			Type: int32(common.HeaderType_ENDORSER_TRANSACTION), ChannelId: p.cfg.Channel, Timestamp: timestamppb.Now(),
			TxId:      computeTxID(nonce, p.admin.serialized),
			Extension: mustMarshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: lifecycleNamespace}}),
		}),
		SignatureHeader: mustMarshal(&common.SignatureHeader{Creator: p.admin.serialized, Nonce: nonce}),
	}
	cpp := &peer.ChaincodeProposalPayload{Input: mustMarshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type: peer.ChaincodeSpec_GOLANG, ChaincodeId: &peer.ChaincodeID{Name: lifecycleNamespace},
		Input: &peer.ChaincodeInput{Args: [][]byte{[]byte("CommitChaincodeDefinition"), mustMarshal(args)}},
	}})}
	h := sha256Sum(append(append(append([]byte(nil), hdr.GetChannelHeader()...), hdr.GetSignatureHeader()...), mustMarshal(cpp)...))
	results := mustMarshal(&rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsRwset: []*rwset.NsReadWriteSet{{
		Namespace: lifecycleNamespace,
		Rwset:     mustMarshal(&kvrwset.KVRWSet{Reads: []*kvrwset.KVRead{seqRead}, Writes: definitionWrites(d)}),
	}}})
	prp := mustMarshal(&peer.ProposalResponsePayload{ProposalHash: h, Extension: mustMarshal(&peer.ChaincodeAction{
		Results: results, Response: &peer.Response{Status: shim.OK},
		ChaincodeId: &peer.ChaincodeID{Name: lifecycleNamespace, Version: sysCCVersion},
	})})
	esig, err := p.peer.sign(append(append([]byte(nil), prp...), p.peer.serialized...))
	if err != nil {
		return nil, err
	}
	env, err := prepareTransaction(hdr, cpp, &peer.ChaincodeEndorsedAction{
		ProposalResponsePayload: prp, Endorsements: []*peer.Endorsement{{Endorser: p.peer.serialized, Signature: esig}},
	})
	if err != nil {
		return nil, err
	}
	if env.Signature, err = p.admin.sign(env.GetPayload()); err != nil {
		return nil, err
	}
	return proto.Marshal(env)
}

// serve starts the gateway service on TCP with TLS when cfg.Listen is set;
// InProcessConn reaches the service without a listener.
func (p *Peer) serve() error {
	gs := &gatewayServer{p: p}
	p.endpoint = p.endpointGuess()
	defer func() { p.endorsers[0].address = p.endpoint }()
	if p.cfg.Listen != "" {
		platform := p.orgs[PlatformOrg]
		certPath, keyPath, err := ensurePeerTLS(platform, p.cfg.Listen)
		if err != nil {
			return err
		}
		pair, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return fmt.Errorf("devnet peer TLS certificate: %w", err)
		}
		tlsCfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if p.cfg.RequireClientCert {
			pool := x509.NewCertPool()
			for _, o := range p.orgs {
				pool.AddCert(o.tlsCA.Cert)
			}
			tlsCfg.ClientAuth, tlsCfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
		}
		ln, err := net.Listen("tcp", p.cfg.Listen)
		if err != nil {
			return fmt.Errorf("devnet listen on %s: %w", p.cfg.Listen, err)
		}
		p.tcp = ln
		p.endpoint = advertised(ln.Addr())
		p.tcpServer = grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsCfg)))
		gateway.RegisterGatewayServer(p.tcpServer, gs)
		p.serveWG.Add(1)
		go func() {
			defer p.serveWG.Done()
			_ = p.tcpServer.Serve(ln)
		}()
	}
	return nil
}

// advertised turns a listener address into one clients can dial and the
// peer's TLS certificate covers (an unspecified host becomes loopback).
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Addr is the TCP address of the TLS gateway service ("" without a
// listener).
func (p *Peer) Addr() string {
	if p.tcp == nil {
		return ""
	}
	return p.endpoint
}

// Channel is the channel name.
func (p *Peer) Channel() string { return p.cfg.Channel }

// Height is the number of committed blocks, counting the genesis block.
func (p *Peer) Height() uint64 { return p.chain.height() }

// InProcessConn is a connection to the gateway service for
// ledger.NewWithConnection that stays in this process: calls reach the
// service directly, without HTTP/2 or sockets, but requests, responses and
// errors (gRPC statuses with their details) still cross as marshalled
// bytes. It is safe for concurrent use and needs no closing.
func (p *Peer) InProcessConn() grpc.ClientConnInterface {
	return &directConn{s: &gatewayServer{p: p}}
}

// Close stops ordering (committing what was accepted), ends event streams
// and commit-status waits, stops serving and closes the ledger.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.orderer.close()
		close(p.closing)
		if s := p.tcpServer; s != nil {
			done := make(chan struct{})
			go func() {
				s.GracefulStop()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				s.Stop()
			}
		}
		p.serveWG.Wait()
		p.closeErr = p.chain.db.Close()
	})
	return p.closeErr
}

// Identity returns an identity issued earlier (or built in).
func (p *Peer) Identity(org, name string) (*Identity, error) {
	o := p.orgs[org]
	if o == nil {
		return nil, fmt.Errorf("devnet: unknown organisation %q", org)
	}
	id := userIdentity(o, p.crypto.root, name)
	if !nameRe.MatchString(name) || !exists(id.MSPDir) {
		return nil, fmt.Errorf("devnet: no identity %q in organisation %s", name, org)
	}
	return id, nil
}

// Identities lists the identities of an organisation.
func (p *Peer) Identities(org string) ([]string, error) {
	if p.orgs[org] == nil {
		return nil, fmt.Errorf("devnet: unknown organisation %q", org)
	}
	return p.crypto.users(org)
}

// IssueIdentity issues a client identity (NodeOU client) of an
// organisation with Fabric CA attributes. For a department organisation,
// nil attrs mean eidgate.role=department and eidgate.dept=<org>. An
// identity that already exists is returned unchanged.
func (p *Peer) IssueIdentity(org, name string, attrs map[string]string) (*Identity, error) {
	o := p.orgs[org]
	if o == nil {
		return nil, fmt.Errorf("devnet: unknown organisation %q", org)
	}
	if attrs == nil && org != PlatformOrg {
		attrs = departmentAttrs(org)
	}
	p.issueMu.Lock()
	defer p.issueMu.Unlock()
	return p.crypto.issueUser(o, name, devcrypto.OUClient, attrs)
}

// Orgs lists the organisation ids of the channel, platform first.
func (p *Peer) Orgs() []string {
	out := []string{PlatformOrg}
	for _, o := range p.cfg.Orgs {
		out = append(out, o.ID)
	}
	return out
}

// MSPID is the MSP id of an organisation.
func (p *Peer) MSPID(org string) (string, error) {
	o := p.orgs[org]
	if o == nil {
		return "", errors.New("devnet: unknown organisation " + org)
	}
	return o.mspID, nil
}
