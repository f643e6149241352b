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
	if cfg.Channel != "eidgate" || cfg.PlatformMSPID != "PlatformMSP" || cfg.BatchTimeout != 2*time.Millisecond || cfg.MaxBatch != 500 {
		t.Fatalf("defaults %+v", cfg)
	}
	if cfg.Orgs[0].MSPID != "EduBureauMSP" || cfg.Orgs[1].MSPID != "HumanResourcesMSP" {
		t.Fatalf("MSP ids %+v", cfg.Orgs)
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
