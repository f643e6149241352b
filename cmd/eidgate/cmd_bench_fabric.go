package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/eidgate/eidgate/internal/bench"
	"github.com/eidgate/eidgate/ledger"
)

// benchFabric is the real Fabric network `eidgate bench --ledger fabric`
// measures beside the embedded peer: the gateway's agent identity (the
// resolve and ledger parts) and the administrator's (the demo load).
type benchFabric struct {
	ledger       string
	profile      string
	adminProfile string
}

func (f *benchFabric) flags(fs *pflag.FlagSet) {
	fs.StringVar(&f.ledger, "ledger", "devnet", "devnet (the embedded peer only) or fabric (also measure the real network of --fabric-profile: fabric_* figures)")
	fs.StringVar(&f.profile, "fabric-profile", "", "connection profile of the gateway's agent identity on the real network (--ledger fabric)")
	fs.StringVar(&f.adminProfile, "fabric-admin-profile", "", "connection profile of an eidgate.role=admin identity, to load the demo consortium onto the real network (--ledger fabric)")
}

func (f *benchFabric) on() bool { return f.ledger == "fabric" }

// check refuses settings that cannot measure a network; the profiles
// themselves are checked by the ledger client when it dials.
func (f *benchFabric) check() error {
	switch f.ledger {
	case "devnet":
		if f.profile != "" || f.adminProfile != "" {
			return errors.New("--fabric-profile and --fabric-admin-profile go with --ledger fabric")
		}
		return nil
	case "fabric":
	default:
		return fmt.Errorf("--ledger %q: want devnet or fabric", f.ledger)
	}
	if f.profile == "" || f.adminProfile == "" {
		return errors.New("--ledger fabric needs --fabric-profile and --fabric-admin-profile")
	}
	for _, p := range []string{f.profile, f.adminProfile} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("connection profile: %w", err)
		}
	}
	return nil
}

// gatewayArgs are the settings of the gateway child on the real network.
func (f *benchFabric) gatewayArgs() []string {
	return []string{"--ledger", "fabric", "--fabric-profile", f.profile, "--fabric-admin-profile", f.adminProfile}
}

// fabricLedger runs the ledger part against the real network with the
// agent identity of --fabric-profile.
func (r *benchRun) fabricLedger(ctx context.Context, rep *bench.Report) error {
	p, err := ledger.LoadProfile(r.opts.fabric.profile)
	if err != nil {
		return err
	}
	lg, err := ledger.Dial(ctx, p)
	if err != nil {
		return err
	}
	defer lg.Close()
	r.say("ledger on Fabric (%s): %d submitters, %s", p.Peer.Endpoint, r.plan.Submitters, r.plan.LedgerLoad)
	l, _, err := r.measureLedger(ctx, lg)
	if err != nil {
		return err
	}
	rep.Ledger.FabricSubmitTPS, rep.Ledger.FabricCommitP50Ms, rep.Ledger.FabricCommitP99Ms = l.SubmitTPS, l.CommitP50Ms, l.CommitP99Ms
	rep.Ledger.FabricSubmitErrors, rep.Ledger.FabricEvaluatePerS, rep.Ledger.FabricEvaluateP99 = l.SubmitErrors, l.EvaluatePerS, l.EvaluateP99
	return nil
}
