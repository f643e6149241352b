package devnet

import (
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

func TestConfigDefaultsAndRefusals(t *testing.T) {
	cfg, err := Config{DataDir: "d", Orgs: []OrgConfig{{ID: "edu-bureau"}, {ID: "hr", MSPID: "HumanResourcesMSP"}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Channel != "eidgate" {
		t.Fatalf("cfg.Channel = %q, want \"eidgate\"; defaults %+v", cfg.Channel, cfg)
	}
	if cfg.PlatformMSPID != "PlatformMSP" {
		t.Fatalf("cfg.PlatformMSPID = %q, want \"PlatformMSP\"; defaults %+v", cfg.PlatformMSPID, cfg)
	}
	if cfg.BatchTimeout != 2*time.Millisecond {
		t.Fatalf("cfg.BatchTimeout = %v, want 2*time.Millisecond; defaults %+v", cfg.BatchTimeout, cfg)
	}
	if cfg.MaxBatch != 500 {
		t.Fatalf("cfg.MaxBatch = %v, want 500; defaults %+v", cfg.MaxBatch, cfg)
	}
	if cfg.Orgs[0].MSPID != "EduBureauMSP" {
		t.Fatalf("cfg.Orgs[0].MSPID = %q, want \"EduBureauMSP\"; MSP ids %+v", cfg.Orgs[0].MSPID, cfg.Orgs)
	}
	if cfg.Orgs[1].MSPID != "HumanResourcesMSP" {
		t.Fatalf("cfg.Orgs[1].MSPID = %q, want \"HumanResourcesMSP\"; MSP ids %+v", cfg.Orgs[1].MSPID, cfg.Orgs)
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no data dir", Config{}, "DataDir must be set"},
		{"bad channel", Config{DataDir: "d", Channel: "Bad Channel"}, "channel name"},
		{"bad listen", Config{DataDir: "d", Listen: "nonsense"}, "listen address"},
		{"system chaincode name", Config{DataDir: "d", Chaincodes: map[string]shim.Chaincode{"qscc": nil}}, "chaincode name"},
		{"nil chaincode", Config{DataDir: "d", Chaincodes: map[string]shim.Chaincode{"cc": nil}}, "is nil"},
		{"bad org id", Config{DataDir: "d", Orgs: []OrgConfig{{ID: "Edu"}}}, "organisation id"},
		{"org clashes with platform", Config{DataDir: "d", Orgs: []OrgConfig{{ID: "platform"}}}, "clashes"},
		{"same MSP twice", Config{DataDir: "d", Orgs: []OrgConfig{{ID: "a1", MSPID: "XMSP"}, {ID: "b1", MSPID: "XMSP"}}}, "configured twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
