package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/spf13/cobra"
)

// devnetChaincodes builds the chaincodes a devnet runs, by name, for the
// platform organisation's MSP id. The root command wires the eidgate
// contract in; nil runs a peer without application chaincodes.
type devnetChaincodes func(platformMSPID string) (map[string]shim.Chaincode, error)

func newDevnetCmd(chaincodes devnetChaincodes) *cobra.Command {
	cfg := devnet.Config{}
	var departments []string
	var endorsement string
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run the embedded Fabric development network (one peer, one orderer, one channel)",
		Long: `Run the embedded Fabric development network: a single peer speaking the
Hyperledger Fabric Gateway gRPC protocol over TLS, with its own ordering node,
one channel and the eidgate chaincode. Dev crypto material (CAs, peer, orderer,
admin, agent and department identities in Fabric's MSP folder layout) and the
ledger live in the data directory and are reused on restart.

It prints the connection profiles of the agent and admin identities; point
"eidgate serve --ledger fabric --fabric-profile <profile>" or any Fabric
Gateway client at them. It stops on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, d := range departments {
				for _, id := range strings.Split(d, ",") {
					if id = strings.TrimSpace(id); id != "" {
						cfg.Orgs = append(cfg.Orgs, devnet.OrgConfig{ID: id, Peer: endorsement == string(devnet.EndorseMajority)})
					}
				}
			}
			cfg.Endorsement = devnet.Endorsement(endorsement)
			if cfg.PlatformMSPID == "" {
				cfg.PlatformMSPID = devnet.DefaultPlatformMSPID
			}
			if chaincodes != nil {
				ccs, err := chaincodes(cfg.PlatformMSPID)
				if err != nil {
					return fmt.Errorf("devnet chaincode: %w", err)
				}
				cfg.Chaincodes = ccs
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			p, err := devnet.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer p.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "eidgate devnet listening on %s (channel %s, height %d, data dir %s)\n", p.Addr(), p.Channel(), p.Height(), cfg.DataDir)
			for _, name := range []string{devnet.AgentName, devnet.AdminName} {
				path, err := p.WriteProfile(devnet.PlatformOrg, name)
				if err != nil {
					return err
				}
				abs, _ := filepath.Abs(path)
				fmt.Fprintf(out, "%s profile: %s\n", name, abs)
			}
			for _, o := range cfg.Orgs {
				path, err := p.WriteProfile(o.ID, devnet.DepartmentSystemName)
				if err != nil {
					return err
				}
				abs, _ := filepath.Abs(path)
				fmt.Fprintf(out, "%s profile: %s\n", o.ID, abs)
			}
			<-cmd.Context().Done()
			fmt.Fprintln(out, "eidgate devnet stopping")
			return p.Close()
		},
	}
	f := cmd.Flags()
	dataDir := DefaultConfig()
	_ = dataDir.applyEnv(os.LookupEnv, "DataDir") // a string: never an error
	// The same directory `eidgate serve` gives its embedded peer, so the
	// standalone devnet serves the gateway's ledger (not both at once: the
	// ledger file is locked).
	f.StringVar(&cfg.DataDir, "data-dir", filepath.Join(dataDir.DataDir, "ledger"), "devnet data directory: ledger, crypto material, profiles (default under EIDGATE_DATA_DIR)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7051", "TLS address of the gateway service")
	f.StringVar(&cfg.Channel, "channel", devnet.DefaultChannel, "channel name")
	f.StringSliceVar(&departments, "department", nil, "department organisation id (repeatable or comma-separated), e.g. edu,civil,hr")
	f.StringVar(&endorsement, "endorsement", string(devnet.EndorsePlatform), "endorsement policy: platform (its peer alone) or majority (every department runs a peer; MAJORITY Endorsement of the organisations, as on the real network)")
	f.BoolVar(&cfg.RequireClientCert, "require-client-cert", false, "require TLS client certificates from the channel organisations' TLS CAs")
	f.DurationVar(&cfg.BatchTimeout, "batch-timeout", devnet.DefaultBatchTimeout, "cut a block this long after its first transaction")
	f.IntVar(&cfg.MaxBatch, "max-batch", devnet.DefaultMaxBatch, "cut a block at this many transactions")
	return cmd
}

// eidgateChaincodes runs the eidgate contract as chaincode "eidgate".
func eidgateChaincodes(platformMSPID string) (map[string]shim.Chaincode, error) {
	cc, err := chaincode.NewChaincode(platformMSPID)
	if err != nil {
		return nil, err
	}
	return map[string]shim.Chaincode{devnet.DefaultChaincode: cc}, nil
}
