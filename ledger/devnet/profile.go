package devnet

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/ledger"
)

// DefaultChaincode is the chaincode a connection profile names when the
// devnet runs none.
const DefaultChaincode = "eidgate"

// Profile is the connection profile of an identity: this peer's endpoint
// and TLS CA, the identity's MSP folder, the channel and chaincode. Paths
// are absolute, so the profile works as it is with ledger.Dial. When the
// peer requires client certificates, the identity's TLS client
// certificate is included.
func (p *Peer) Profile(org, name string) (*ledger.Profile, error) {
	id, err := p.Identity(org, name)
	if err != nil {
		return nil, err
	}
	prof := &ledger.Profile{
		Peer:      ledger.PeerProfile{Endpoint: p.endpoint, TLSCACert: p.tlsCA},
		MSP:       ledger.MSPProfile{ID: id.MSPID, Dir: id.MSPDir},
		Channel:   p.cfg.Channel,
		Chaincode: p.cfg.ProfileChaincode,
	}
	if p.cfg.RequireClientCert {
		prof.Peer.ClientCert, prof.Peer.ClientKey = id.TLSCert, id.TLSKey
	}
	return prof, nil
}

// WriteProfile writes the identity's connection profile to
// <data dir>/profiles/<org>-<name>.yaml, with paths relative to the
// profile, and returns its path. ledger.LoadProfile reads it.
func (p *Peer) WriteProfile(org, name string) (string, error) {
	prof, err := p.Profile(org, name)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(p.cfg.DataDir, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rel := func(path string) (string, error) {
		if path == "" {
			return "", nil
		}
		a, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		return filepath.Rel(abs, a)
	}
	for _, f := range []*string{&prof.Peer.TLSCACert, &prof.MSP.Dir, &prof.Peer.ClientCert, &prof.Peer.ClientKey} {
		if *f, err = rel(*f); err != nil {
			return "", err
		}
	}
	raw, err := prof.Marshal()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.yaml", org, name))
	// Tools of a gateway read this profile while the gateway may rewrite it.
	if err := safefile.Write(path, raw, 0o644); err != nil {
		return "", err
	}
	return path, nil
}
