package devnet_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// kvContract is a small contract exercising what the devnet must carry:
// writes with events, reads, read-modify-write, deletes, range queries,
// history, failures and the caller's certificate attributes.
type kvContract struct{ contractapi.Contract }

func (kvContract) Put(ctx contractapi.TransactionContextInterface, key, value string) error {
	if err := ctx.GetStub().PutState(key, []byte(value)); err != nil {
		return err
	}
	return ctx.GetStub().SetEvent("put", []byte(key+"="+value))
}

func (kvContract) Get(ctx contractapi.TransactionContextInterface, key string) (string, error) {
	v, err := ctx.GetStub().GetState(key)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", fmt.Errorf("NOT_FOUND: key %s does not exist", key)
	}
	return string(v), nil
}

// Incr reads a counter and writes it back plus one: concurrent calls on
// one key conflict at commit.
func (kvContract) Incr(ctx contractapi.TransactionContextInterface, key string) (int, error) {
	v, err := ctx.GetStub().GetState(key)
	if err != nil {
		return 0, err
	}
	n := 0
	if v != nil {
		if n, err = strconv.Atoi(string(v)); err != nil {
			return 0, err
		}
	}
	n++
	if err := ctx.GetStub().PutState(key, []byte(strconv.Itoa(n))); err != nil {
		return 0, err
	}
	return n, ctx.GetStub().SetEvent("incr", []byte(key+"="+strconv.Itoa(n)))
}

func (kvContract) Del(ctx contractapi.TransactionContextInterface, key string) error {
	return ctx.GetStub().DelState(key)
}

func (kvContract) Fail(_ contractapi.TransactionContextInterface, msg string) error {
	return errors.New(msg)
}

// Keys lists the keys in [start, end).
func (kvContract) Keys(ctx contractapi.TransactionContextInterface, start, end string) ([]string, error) {
	it, err := ctx.GetStub().GetStateByRange(start, end)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	keys := []string{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		keys = append(keys, kv.Key)
	}
	return keys, nil
}

// Tally counts the keys in [start, end) and stores the count: a range read
// followed by a write, so a concurrent insert into the range is a phantom.
func (kvContract) Tally(ctx contractapi.TransactionContextInterface, start, end, out string) (int, error) {
	keys, err := kvContract{}.Keys(ctx, start, end)
	if err != nil {
		return 0, err
	}
	return len(keys), ctx.GetStub().PutState(out, []byte(strconv.Itoa(len(keys))))
}

// History returns the key's history as "value" or "(deleted)", newest first.
func (kvContract) History(ctx contractapi.TransactionContextInterface, key string) ([]string, error) {
	it, err := ctx.GetStub().GetHistoryForKey(key)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []string{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		if m.GetIsDelete() {
			out = append(out, "(deleted)")
		} else {
			out = append(out, string(m.GetValue()))
		}
	}
	return out, nil
}

// Whoami returns the caller's MSP id and eidgate attributes.
func (kvContract) Whoami(ctx contractapi.TransactionContextInterface) (string, error) {
	mspID, err := cid.GetMSPID(ctx.GetStub())
	if err != nil {
		return "", err
	}
	role, _, _ := cid.GetAttributeValue(ctx.GetStub(), "eidgate.role")
	dept, _, _ := cid.GetAttributeValue(ctx.GetStub(), "eidgate.dept")
	return strings.Join([]string{mspID, role, dept}, "/"), nil
}

func newKVChaincode(t testing.TB) shim.Chaincode {
	t.Helper()
	cc, err := contractapi.NewChaincode(&kvContract{})
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

const testChaincode = "kv"

// openPeer starts a devnet with the kv chaincode on a fresh (or given)
// data dir and closes it at the end of the test.
func openPeer(t testing.TB, dir string, edit func(*devnet.Config)) *devnet.Peer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := devnet.Config{
		DataDir:    dir,
		Listen:     "127.0.0.1:0",
		Chaincodes: map[string]shim.Chaincode{testChaincode: newKVChaincode(t)},
		Orgs:       []devnet.OrgConfig{{ID: "edu"}},
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := devnet.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("devnet.Open: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// inProcess connects the real ledger client to the peer without TCP.
func inProcess(t testing.TB, p *devnet.Peer, org, name string, opts ...ledger.Option) *ledger.Client {
	t.Helper()
	prof, err := p.Profile(org, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ledger.NewWithConnection(ctx, prof, p.InProcessConn(), opts...)
	if err != nil {
		t.Fatalf("ledger.NewWithConnection: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// overTLS connects the real ledger client over TCP with TLS through a
// written connection profile.
func overTLS(t testing.TB, p *devnet.Peer, org, name string) *ledger.Client {
	t.Helper()
	path, err := p.WriteProfile(org, name)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := ledger.LoadProfile(path)
	if err != nil {
		t.Fatalf("ledger.LoadProfile: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ledger.Dial(ctx, prof)
	if err != nil {
		t.Fatalf("ledger.Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func clientStartBlock(n uint64) client.ChaincodeEventsOption { return client.WithStartBlock(n) }
