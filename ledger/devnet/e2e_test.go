package devnet_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/routing"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// TestEidgateChaincodeEndToEnd runs the eidgate contract on the devnet and
// drives it with the typed ledger client, as the gateway does.
func TestEidgateChaincodeEndToEnd(t *testing.T) {
	cc, err := chaincode.NewChaincode(devnet.DefaultPlatformMSPID)
	if err != nil {
		t.Fatal(err)
	}
	p := openPeer(t, "", func(c *devnet.Config) {
		c.Chaincodes = map[string]shim.Chaincode{devnet.DefaultChaincode: cc}
		c.ProfileChaincode = ""
		// A longer batch puts the concurrent updates below into one block.
		c.BatchTimeout = 100 * time.Millisecond
	})
	ctx := context.Background()
	admin := overTLS(t, p, devnet.PlatformOrg, devnet.AdminName)
	agent := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	edu := inProcess(t, p, "edu", devnet.DepartmentSystemName)

	store := newMemCheckpoints()
	col := newCollector()
	stop := runListener(t, agent, store, col)
	defer stop()

	d, err := admin.RegisterDepartment(ctx, model.Department{ID: "edu", Name: "Education Bureau", MSPID: "EduMSP"})
	if err != nil {
		t.Fatalf("RegisterDepartment: %v", err)
	}
	if d.Status != model.DepartmentActive {
		t.Fatalf("d.Status = %v, want model.DepartmentActive; registered %+v", d.Status, d)
	}
	if d.CreatedAt == "" {
		t.Fatalf("d.CreatedAt == \"\", want it different; registered %+v", d)
	}
	if _, err := agent.RegisterDepartment(ctx, model.Department{ID: "hr", Name: "Human Resources", MSPID: "HrMSP"}); routing.KindOf(err) != routing.KindForbidden {
		t.Fatalf("agent registering a department: %v, want forbidden", err)
	}
	if _, err := admin.RegisterDepartment(ctx, model.Department{ID: "edu", Name: "Again", MSPID: "EduMSP"}); routing.KindOf(err) != routing.KindConflict {
		t.Fatalf("registering twice: %v, want conflict", err)
	}
	got, err := edu.GetDepartment(ctx, "edu")
	if err != nil {
		t.Fatalf("err = %v, want nil; GetDepartment as the department: %+v %v", err, got, err)
	}
	if got.Name != "Education Bureau" {
		t.Fatalf("got.Name = %q, want \"Education Bureau\"; GetDepartment as the department: %+v %v", got.Name, got, err)
	}

	// Concurrent updates of one department conflict at commit; the client's
	// bounded retry re-proposes until each has committed.
	const writers = 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := admin.UpdateDepartment(ctx, model.Department{ID: "edu", Name: fmt.Sprintf("Education Bureau %d", i), MSPID: "EduMSP"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UpdateDepartment under contention: %v", err)
		}
	}
	rep, err := p.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Codes["MVCC_READ_CONFLICT"] == 0 {
		t.Fatalf("no read conflict among %d concurrent updates: %v", writers, rep.Codes)
	}

	// Registration plus the four updates arrive as chaincode events.
	col.waitFor(t, 1+writers)
	names := map[string]int{}
	for _, ev := range col.got {
		names[ev.Name]++
	}
	if names[model.FnRegisterDepartment] != 1 || names[model.FnUpdateDepartment] != writers {
		t.Fatalf("events %v", names)
	}
	height, err := agent.BlockHeight(ctx)
	if err != nil || height != p.Height() {
		t.Fatalf("BlockHeight %d %v, peer height %d", height, err, p.Height())
	}
}
