package store_test

import (
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	gormadapter "github.com/casbin/gorm-adapter/v3"

	"github.com/eidgate/eidgate/store/storetest"
)

// The Casbin gorm adapter keeps its policy in the same database through
// Gorm(), and a second replica reads what the first saved.
func TestCasbinAdapterOverGorm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		const modelText = `
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && keyMatch(r.obj, p.obj) && r.act == p.act`
		enforcer := func() *casbin.Enforcer {
			m, err := model.NewModelFromString(modelText)
			if err != nil {
				t.Fatal(err)
			}
			a, err := gormadapter.NewAdapterByDB(d.Open(t).Gorm())
			if err != nil {
				t.Fatal(err)
			}
			e, err := casbin.NewEnforcer(m, a)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		first := enforcer()
		if _, err := first.AddPolicy("edu-bureau", "edu.*", "admission"); err != nil {
			t.Fatal(err)
		}
		second := enforcer()
		if ok, err := second.Enforce("edu-bureau", "edu.degree", "admission"); err != nil || !ok {
			t.Fatalf("second replica: %v %v", ok, err)
		}
		if ok, _ := second.Enforce("hr-bureau", "edu.degree", "admission"); ok {
			t.Fatal("an unknown department was allowed")
		}
	})
}
