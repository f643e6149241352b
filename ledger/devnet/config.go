package devnet

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// Defaults tuned for low commit latency on a development machine.
const (
	DefaultChannel       = "eidgate"
	DefaultPlatformMSPID = "PlatformMSP"
	DefaultBatchTimeout  = 2 * time.Millisecond
	DefaultMaxBatch      = 500
)

// Config configures a devnet peer.
type Config struct {
	// DataDir holds the ledger file, the dev crypto material and the
	// connection profiles. It is created if missing.
	DataDir string
	// Listen is the TCP address of the TLS gateway service, e.g.
	// 127.0.0.1:7051 (port 0 picks a free port). Empty: in-process only.
	Listen string
	// Channel is the channel name (default "eidgate").
	Channel string
	// Chaincodes are the chaincodes the peer runs, by name. Each is defined
	// on the channel (version 1.0, endorsed by the platform peer) the first
	// time the peer starts with it.
	Chaincodes map[string]shim.Chaincode
	// ProfileChaincode is the chaincode named in connection profiles;
	// default: the only chaincode, or the first by name.
	ProfileChaincode string
	// PlatformMSPID is the MSP id of the platform organisation (default
	// "PlatformMSP"), which runs the peer and the ordering node.
	PlatformMSPID string
	// Orgs are the department organisations of the channel.
	Orgs []OrgConfig
	// BatchTimeout and MaxBatch cut blocks: a block is cut MaxBatch
	// transactions or BatchTimeout after its first transaction arrived,
	// whichever comes first.
	BatchTimeout time.Duration
	MaxBatch     int
	// Endorsement is the endorsement policy the devnet defines its
	// chaincodes with (default EndorsePlatform). A chaincode defined
	// earlier under another policy is redefined at the next sequence.
	Endorsement Endorsement
	// RequireClientCert makes the TLS listener demand a client certificate
	// issued by one of the channel organisations' TLS CAs.
	RequireClientCert bool
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
}

// OrgConfig is a department organisation.
type OrgConfig struct {
	// ID is the department id, also its directory under crypto/ and the
	// eidgate.dept attribute of its identities, e.g. "edu".
	ID string
	// MSPID defaults to the id in camel case with "MSP" appended, e.g.
	// "EduMSP" for "edu", "EduBureauMSP" for "edu-bureau".
	MSPID string
	// Peer gives the organisation an endorsing peer (peer0.<id>, NodeOU
	// peer) next to the platform's, so that endorsement policies naming
	// its peers can be met. Without it the organisation is a channel
	// member (reader, writer) without a peer.
	Peer bool
}

// Endorsement names the endorsement policy of the devnet's chaincodes.
type Endorsement string

const (
	// EndorsePlatform is OR('<platform MSP>.peer'): the platform peer
	// alone endorses, one simulation and one signature per transaction.
	EndorsePlatform Endorsement = "platform"
	// EndorseMajority is the channel's /Channel/Application/Endorsement
	// policy, MAJORITY Endorsement over the peers of every application
	// organisation, as deploy/fabric/configtx.yaml defines it for a real
	// network: more than half of the organisations (platform included)
	// must run a peer (OrgConfig.Peer) and have it up for a write to be
	// endorsed.
	EndorseMajority Endorsement = "majority"
)

func defaultMSPID(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String() + "MSP"
}

var (
	orgIDRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)
	mspIDRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	channelRe   = regexp.MustCompile(`^[a-z][a-z0-9.-]{0,248}$`)
	chaincodeRe = regexp.MustCompile(`^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`)
)

// withDefaults validates the configuration and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("devnet: DataDir must be set")
	}
	if c.Channel == "" {
		c.Channel = DefaultChannel
	}
	if !channelRe.MatchString(c.Channel) {
		return c, fmt.Errorf("devnet: channel name %q is not valid", c.Channel)
	}
	if c.PlatformMSPID == "" {
		c.PlatformMSPID = DefaultPlatformMSPID
	}
	if !mspIDRe.MatchString(c.PlatformMSPID) {
		return c, fmt.Errorf("devnet: MSP id %q is not valid", c.PlatformMSPID)
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	switch c.Endorsement {
	case "":
		c.Endorsement = EndorsePlatform
	case EndorsePlatform, EndorseMajority:
	default:
		return c, fmt.Errorf("devnet: endorsement policy %q: want %q or %q", c.Endorsement, EndorsePlatform, EndorseMajority)
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return c, fmt.Errorf("devnet: listen address %q: %v", c.Listen, err)
		}
	}
	names := make([]string, 0, len(c.Chaincodes))
	for name, cc := range c.Chaincodes {
		if !chaincodeRe.MatchString(name) || systemChaincodes[name] {
			return c, fmt.Errorf("devnet: chaincode name %q is not valid", name)
		}
		if cc == nil {
			return c, fmt.Errorf("devnet: chaincode %s is nil", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if c.ProfileChaincode == "" && len(names) > 0 {
		c.ProfileChaincode = names[0]
	}
	seenID := map[string]bool{PlatformOrg: true}
	seenMSP := map[string]bool{c.PlatformMSPID: true}
	orgs := make([]OrgConfig, len(c.Orgs))
	for i, o := range c.Orgs {
		if !orgIDRe.MatchString(o.ID) {
			return c, fmt.Errorf("devnet: organisation id %q: want lower-case letters, digits and '-'", o.ID)
		}
		if o.MSPID == "" {
			o.MSPID = defaultMSPID(o.ID)
		}
		if !mspIDRe.MatchString(o.MSPID) {
			return c, fmt.Errorf("devnet: MSP id %q is not valid", o.MSPID)
		}
		if seenID[o.ID] || seenMSP[o.MSPID] {
			return c, fmt.Errorf("devnet: organisation %s (%s) is configured twice or clashes with the platform", o.ID, o.MSPID)
		}
		seenID[o.ID], seenMSP[o.MSPID] = true, true
		orgs[i] = o
	}
	c.Orgs = orgs
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
