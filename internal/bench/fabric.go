package bench

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/eidgate/eidgate/ledger"
)

// FabricOptions is the real Fabric network `eidgate bench --ledger fabric`
// measures beside the embedded peer: the gateway's agent identity (the
// resolve and ledger parts) and the administrator's (the demo load).
type FabricOptions struct {
	Ledger       string // devnet (the embedded peer only) or fabric
	Profile      string // connection profile of the agent identity
	AdminProfile string // connection profile of an eidgate.role=admin identity (the demo load)
}

// On reports whether the run also measures a real network.
func (f *FabricOptions) On() bool { return f.Ledger == "fabric" }

// Check refuses settings that cannot measure a network; the profiles
// themselves are checked by the ledger client when it dials.
func (f *FabricOptions) Check() error {
	switch f.Ledger {
	case "devnet":
		if f.Profile != "" || f.AdminProfile != "" {
			return errors.New("--fabric-profile and --fabric-admin-profile go with --ledger fabric")
		}
		return nil
	case "fabric":
	default:
		return fmt.Errorf("--ledger %q: want devnet or fabric", f.Ledger)
	}
	if f.Profile == "" || f.AdminProfile == "" {
		return errors.New("--ledger fabric needs --fabric-profile and --fabric-admin-profile")
	}
	for _, p := range []string{f.Profile, f.AdminProfile} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("connection profile: %w", err)
		}
	}
	return nil
}

// GatewayArgs are the settings of the gateway child on the real network.
func (f *FabricOptions) GatewayArgs() []string {
	return []string{"--ledger", "fabric", "--fabric-profile", f.Profile, "--fabric-admin-profile", f.AdminProfile}
}

// fabricLedger runs the ledger part against the real network with the
// agent identity of --fabric-profile.
func (r *Runner) fabricLedger(ctx context.Context, rep *Report) error {
	p, err := ledger.LoadProfile(r.opts.Fabric.Profile)
	if err != nil {
		return err
	}
	lg, err := ledger.Dial(ctx, p)
	if err != nil {
		return err
	}
	defer lg.Close()
	r.say("ledger on Fabric (%s): %d submitters, %s", p.Peer.Endpoint, r.plan.Submitters, r.plan.LedgerLoad)
	l, err := r.measureLedger(ctx, lg)
	if err != nil {
		return err
	}
	rep.Ledger.FabricSubmitTPS, rep.Ledger.FabricCommitP50Ms, rep.Ledger.FabricCommitP99Ms = l.SubmitTPS, l.CommitP50Ms, l.CommitP99Ms
	rep.Ledger.FabricSubmitErrors, rep.Ledger.FabricEvaluatePerS, rep.Ledger.FabricEvaluateP99 = l.SubmitErrors, l.EvaluatePerS, l.EvaluateP99
	return nil
}
