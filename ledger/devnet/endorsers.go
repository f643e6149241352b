package devnet

import (
	"fmt"
	"math/bits"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// endorserPeer is one organisation's endorsing peer. Every peer runs in
// this process over the same ledger, so one simulation serves them all;
// each signs its endorsement with its own identity (its organisation's
// NodeOU peer certificate). A stopped peer is left out of endorsement
// plans, as a real gateway leaves out a peer that discovery no longer
// lists alive.
type endorserPeer struct {
	org     string
	mspID   string
	address string // reported in error details
	signer  *signer
	down    atomic.Bool
}

// loadEndorsers builds the platform peer and the peers of the
// organisations configured with one, creating their certificates once.
func (p *Peer) loadEndorsers() error {
	platform := p.orgs[PlatformOrg]
	p.endorsers = []*endorserPeer{{org: PlatformOrg, mspID: platform.mspID, signer: p.peer}}
	for _, oc := range p.cfg.Orgs {
		if !oc.Peer {
			continue
		}
		o := p.orgs[oc.ID]
		dir := filepath.Join(o.dir, "peers", peerName)
		if !exists(dir) {
			if err := writeAtomically(dir, func(tmp string) error { return writeNode(tmp, o, peerName, devcrypto.OUPeer) }); err != nil {
				return fmt.Errorf("devnet peer of %s: %w", oc.ID, err)
			}
		}
		id, err := devcrypto.LoadIdentity(filepath.Join(dir, "msp"), o.mspID)
		if err != nil {
			return fmt.Errorf("devnet peer of %s: %w", oc.ID, err)
		}
		p.endorsers = append(p.endorsers, &endorserPeer{
			org: oc.ID, mspID: o.mspID, address: peerName + "." + o.domain + ":7051",
			signer: &signer{key: id.Key, serialized: mustMarshal(&msp.SerializedIdentity{Mspid: o.mspID, IdBytes: id.CertPEM})},
		})
	}
	return nil
}

func (p *Peer) endorserOf(org string) (*endorserPeer, error) {
	for _, e := range p.endorsers {
		if e.org == org {
			if org == PlatformOrg {
				return nil, fmt.Errorf("devnet: the platform peer serves the gateway and cannot be stopped; close the devnet instead")
			}
			return e, nil
		}
	}
	if p.orgs[org] == nil {
		return nil, fmt.Errorf("devnet: unknown organisation %q", org)
	}
	return nil, fmt.Errorf("devnet: organisation %s runs no peer (OrgConfig.Peer)", org)
}

// StopPeer takes a department organisation's peer down: from now on the
// gateway finds no endorser of that organisation, so a write whose
// endorsement policy needs it fails as on a real network whose peers
// stopped. StartPeer brings it back.
func (p *Peer) StopPeer(org string) error { return p.setPeerDown(org, true) }

// StartPeer brings a stopped peer back.
func (p *Peer) StartPeer(org string) error { return p.setPeerDown(org, false) }

func (p *Peer) setPeerDown(org string, down bool) error {
	e, err := p.endorserOf(org)
	if err != nil {
		return err
	}
	e.down.Store(down)
	p.cfg.Logger.Info("devnet peer", "org", org, "down", down)
	return nil
}

// livePeers are the peers up, platform first.
func (p *Peer) livePeers() []*endorserPeer {
	out := make([]*endorserPeer, 0, len(p.endorsers))
	for _, e := range p.endorsers {
		if !e.down.Load() {
			out = append(out, e)
		}
	}
	return out
}

// errNoEndorsementPlan is the gateway's refusal when discovery finds no
// set of live peers that satisfies the endorsement policy
// (gw/registry.go endorsementPlan over discovery/endorsement).
const errNoEndorsementPlan = "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy"

// maxExhaustivePlan bounds the peers whose subsets are all tried; beyond
// it peers are added in order until the policy is met.
const maxExhaustivePlan = 12

// endorsementPlan picks the live peers whose endorsements satisfy the
// chaincode's endorsement policy: a smallest such set, preferring one that
// holds the platform peer (the gateway's own, which endorsed first), as
// the gateway prefers discovery layouts holding its first endorser. The
// choice is deterministic (configuration order). ok is false when no set
// of live peers satisfies the policy.
func (p *Peer) endorsementPlan(chaincode string) ([]*endorserPeer, bool) {
	_, members, defs, _ := p.chain.snapshot()
	def := defs[chaincode]
	live := p.livePeers()
	if def == nil {
		// A system chaincode: the gateway's own peer answers.
		if len(live) > 0 && live[0].org == PlatformOrg {
			return live[:1], true
		}
		return nil, false
	}
	ids := make([]*identity, len(live))
	for i, e := range live {
		ids[i] = members.lookup(e.signer.serialized)
	}
	pick := func(mask uint) ([]*endorserPeer, []*identity) {
		var ps []*endorserPeer
		var is []*identity
		for i := range live {
			if mask&(1<<i) != 0 {
				ps, is = append(ps, live[i]), append(is, ids[i])
			}
		}
		return ps, is
	}
	n := len(live)
	if n > maxExhaustivePlan {
		for k := 1; k <= n; k++ {
			if def.satisfiedBy(members, ids[:k]) {
				return live[:k], true
			}
		}
		return nil, false
	}
	masks := make([]uint, 0, 1<<n)
	for m := uint(1); m < 1<<n; m++ {
		masks = append(masks, m)
	}
	hasPlatform := func(m uint) bool { return live[0].org == PlatformOrg && m&1 != 0 }
	sort.SliceStable(masks, func(i, j int) bool {
		ci, cj := bits.OnesCount(masks[i]), bits.OnesCount(masks[j])
		if ci != cj {
			return ci < cj
		}
		return hasPlatform(masks[i]) && !hasPlatform(masks[j])
	})
	for _, m := range masks {
		if ps, is := pick(m); def.satisfiedBy(members, is) {
			return ps, true
		}
	}
	return nil, false
}

// peersForOrgs is the gateway's planForOrgs: one live peer of each named
// organisation that runs the chaincode; missing names the organisations
// without one.
func (p *Peer) peersForOrgs(orgs []string, channel, chaincode string) (plan []*endorserPeer, missing []string) {
	live := p.livePeers()
	for _, mspID := range orgs {
		var found *endorserPeer
		if channel == p.cfg.Channel && p.hasChaincode(chaincode) {
			for _, e := range live {
				if e.mspID == mspID {
					found = e
					break
				}
			}
		}
		if found == nil {
			missing = append(missing, mspID)
			continue
		}
		plan = append(plan, found)
	}
	return plan, missing
}

// missingOrgsError is planForOrgs' refusal.
func missingOrgsError(missing []string) string {
	return "failed to find any endorsing peers for org(s): " + strings.Join(missing, ", ")
}

// endorsements are the plan's endorsements of one simulated proposal
// response: the platform peer's own (already in pr) and each other peer's
// signature over payload ‖ endorser, remembered so the committer does not
// verify them again.
func (p *Peer) endorsements(pr *peer.ProposalResponse, plan []*endorserPeer) ([]*peer.Endorsement, error) {
	out := make([]*peer.Endorsement, 0, len(plan))
	for _, e := range plan {
		if e.org == PlatformOrg {
			out = append(out, pr.GetEndorsement())
			continue
		}
		msg := make([]byte, 0, len(pr.GetPayload())+len(e.signer.serialized))
		msg = append(append(msg, pr.GetPayload()...), e.signer.serialized...)
		sig, err := e.signer.sign(msg)
		if err != nil {
			return nil, fmt.Errorf("endorsement with plugin failed: %w", err)
		}
		p.chain.memo.remember(msg, sig)
		out = append(out, &peer.Endorsement{Endorser: e.signer.serialized, Signature: sig})
	}
	return out, nil
}
