package routing_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// syncBuffer collects a logger's output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A registry change is seen at once through the cache of the replica that
// made it; when the cache cannot drop the stale entry, the change still
// commits and the failure is logged.
func TestRegistryChangesDropTheirCacheEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var logs syncBuffer
	reg := must[*routing.Registry](t)(routing.NewRegistry(routing.RegistryConfig{Ledger: e.ledger, Dir: e.dir,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}))

	d, err := reg.Department(ctx, "hrss") // cached from here on
	if err != nil {
		t.Fatal(err)
	}
	d.Name, d.MSPID = "Human Resources", "HrssMSP"
	if _, err := reg.UpdateDepartment(ctx, *d); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.Department(ctx, "hrss"); got.Name != "Human Resources" {
		t.Errorf("after the update the department reads %q, want the new name", got.Name)
	}
	if list, _ := reg.Departments(ctx); !containsDept(list, "hrss", "Human Resources") {
		t.Errorf("after the update the department list holds %+v", list)
	}
	if _, err := reg.SetDepartmentStatus(ctx, "hrss", model.DepartmentSuspended, "audit"); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.Department(ctx, "hrss"); got.Status != model.DepartmentSuspended {
		t.Errorf("after the suspension the department reads %s, want suspended", got.Status)
	}
	if _, err := reg.DataType(ctx, "edu.degree"); err != nil {
		t.Fatal(err)
	}
	dt := model.DataType{Code: "edu.degree", Name: "Degree", Schema: `{"type":"object"}`, Owners: []string{"edu-bureau"}, Status: model.DataTypeActive}
	if _, err := reg.UpdateDataType(ctx, dt); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.DataType(ctx, "edu.degree"); got.Name != "Degree" {
		t.Errorf("after the update the data type reads %q, want Degree", got.Name)
	}

	// The cache goes down: the change still commits, and is logged.
	e.cache.SetDown(true)
	if _, err := reg.RegisterDepartment(ctx, model.Department{ID: "tax-bureau", Name: "Tax", MSPID: "TaxMSP"}); err != nil {
		t.Fatalf("a registration while the cache is down: %v, want it committed", err)
	}
	if !strings.Contains(logs.String(), "cache invalidation failed") {
		t.Errorf("the failed invalidation was not logged: %q", logs.String())
	}
	e.cache.SetDown(false)
	if _, err := e.ledger.GetDepartment(ctx, "tax-bureau"); err != nil {
		t.Errorf("the registration is not on the ledger: %v", err)
	}
	// A refused change drops nothing and logs nothing new.
	before := logs.String()
	if _, err := reg.RegisterDepartment(ctx, model.Department{ID: "tax-bureau", Name: "Tax", MSPID: "TaxMSP"}); !routing.IsKind(err, routing.KindConflict) {
		t.Errorf("registering tax-bureau twice: %v, want conflict", err)
	}
	if logs.String() != before {
		t.Errorf("a refused change logged %q", strings.TrimPrefix(logs.String(), before))
	}
}

func containsDept(ds []model.Department, id, name string) bool {
	for _, d := range ds {
		if d.ID == id && d.Name == name {
			return true
		}
	}
	return false
}

// A department publishes only its own signed digests, and the resolve
// that follows on this replica sees them at once.
func TestRoutesPublishAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	routes := must[*routing.Routes](t)(routing.NewRoutes(routing.RoutesConfig{Ledger: e.ledger, Dir: e.dir, Logger: quiet}))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := model.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dept, _ := e.ledger.GetDepartment(ctx, "edu-bureau")
	dept.SigningKeys = []model.SigningKey{{KID: "k1", PublicKeyPEM: pem, Status: model.KeyActive}}
	e.ledger.PutDepartment(*dept)
	sign := func(provider string) model.SignedRoute {
		sr, err := model.SignRoute(key, "k1", model.RouteStatement{EID: eidBob, DataType: "edu.degree", Provider: provider,
			Version: 1, Digest: "sha256:" + hex64('b'), Schema: "edu.degree/1"})
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	if _, err := e.dir.RoutesOf(ctx, eidBob); err != nil { // cached: none
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		batch []model.SignedRoute
		field string
	}{
		"empty batch":        {nil, "routes"},
		"another's digest":   {[]model.SignedRoute{sign("edu-bureau"), sign("hrss")}, "routes[1].statement.provider"},
		"more than the most": {make([]model.SignedRoute, routing.MaxRouteBatch+1), "routes"},
	} {
		_, err := routes.Publish(ctx, "edu-bureau", tc.batch)
		var re *routing.Error
		if !routing.IsKind(err, routing.KindInvalid) || !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%s: %v, want invalid naming %s", name, err, tc.field)
		}
	}
	if n := e.ledger.Calls("PublishRoutes"); n != 0 {
		t.Errorf("refused batches reached the ledger %d times", n)
	}
	out, err := routes.Publish(ctx, "edu-bureau", []model.SignedRoute{sign("edu-bureau")})
	if err != nil {
		t.Fatalf("err = %v, want nil; publish: %+v, %v", err, out, err)
	}
	if len(out) != 1 {
		t.Fatalf("len(out) = %v, want 1; publish: %+v, %v", len(out), out, err)
	}
	if out[0].Outcome != model.OutcomePublished {
		t.Fatalf("out[0].Outcome = %v, want model.OutcomePublished; publish: %+v, %v", out[0].Outcome, out, err)
	}
	if cached, _ := e.dir.RoutesOf(ctx, eidBob); len(cached) != 1 {
		t.Errorf("after publishing, this replica's directory has %d routes of the eID, want 1", len(cached))
	}

	if _, err := routes.Revoke(ctx, "edu-bureau", eidBob, "edu.degree", ""); !routing.IsKind(err, routing.KindInvalid) {
		t.Errorf("a revocation without a reason: %v, want invalid", err)
	}
	if _, err := routes.Revoke(ctx, "hrss", eidBob, "edu.degree", "wrong department"); err == nil {
		t.Error("another department revoked edu-bureau's route")
	}
	entry, err := routes.Revoke(ctx, "edu-bureau", eidBob, "edu.degree", "record withdrawn")
	if err != nil {
		t.Fatalf("err = %v, want nil; revoke: %+v, %v", err, entry, err)
	}
	if entry.Status != model.RouteRevoked {
		t.Fatalf("entry.Status = %v, want model.RouteRevoked; revoke: %+v, %v", entry.Status, entry, err)
	}
	if cached, _ := e.dir.RoutesOf(ctx, eidBob); len(cached) != 1 {
		t.Errorf("len(cached) = %v, want 1; after the revocation this replica's directory holds %+v, want the revoked entry", len(cached), cached)
	} else if cached[0].Status != model.RouteRevoked {
		t.Errorf("cached[0].Status = %v, want model.RouteRevoked; after the revocation this replica's directory holds %+v, want the revoked entry", cached[0].Status, cached)
	}
	if list, _ := routes.Of(ctx, eidBob); len(list) != 1 {
		t.Errorf("len(list) = %v, want 1; Of = %+v, want the revoked entry", len(list), list)
	} else if list[0].Status != model.RouteRevoked {
		t.Errorf("list[0].Status = %v, want model.RouteRevoked; Of = %+v, want the revoked entry", list[0].Status, list)
	}
}
