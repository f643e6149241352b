package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/bench"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/ticket"
)

// zeroConfig builds every NewX(Config) constructor of the module from a
// zero Config. Optional-only configs may succeed; none may panic.
var zeroConfig = map[string]func() error{
	"accounts.NewAPIKeys":            func() error { _, err := accounts.NewAPIKeys(accounts.Config{}); return err },
	"accounts.NewAdmins":             func() error { _, err := accounts.NewAdmins(accounts.Config{}); return err },
	"accounts.NewPasskeys":           func() error { _, err := accounts.NewPasskeys(accounts.PasskeysConfig{}); return err },
	"accounts.NewResidents":          func() error { _, err := accounts.NewResidents(accounts.Config{}); return err },
	"accounts.NewSessions":           func() error { _, err := accounts.NewSessions(accounts.Config{}); return err },
	"accounts.NewSignIn":             func() error { _, err := accounts.NewSignIn(accounts.SignInConfig{}); return err },
	"audit.New":                      func() error { _, err := audit.New(audit.Config{}); return err },
	"approval.New":                   func() error { _, err := approval.New(approval.Config{}); return err },
	"cache.NewKeyedLimiter":          func() error { _, err := cache.NewKeyedLimiter(cache.KeyedLimiterConfig{}); return err },
	"cache.NewMemory":                func() error { _, err := cache.NewMemory(cache.MemoryConfig{}); return err },
	"cache.NewNear":                  func() error { _, err := cache.NewNear(cache.NearConfig{}); return err },
	"cache.NewMemoryLimiter":         func() error { _, err := cache.NewMemoryLimiter(cache.MemoryLimiterConfig{}); return err },
	"cache.NewRedis":                 func() error { _, err := cache.NewRedis(cache.RedisConfig{}); return err },
	"credential.NewQuestions":        func() error { _, err := credential.NewQuestions(credential.QuestionsConfig{}); return err },
	"credential.NewService":          func() error { _, err := credential.NewService(credential.Config{}); return err },
	"gateway.New":                    func() error { _, err := gateway.New(gateway.Config{}); return err },
	"internal/bench.NewRunner":       func() error { _, err := bench.NewRunner(bench.Config{}); return err },
	"internal/demo.NewLoader":        func() error { _, err := demo.NewLoader(demo.LoaderConfig{}); return err },
	"internal/demo.NewProvider":      func() error { _, err := demo.NewProvider(demo.ProviderConfig{}); return err },
	"mapping.NewImporter":            func() error { _, err := mapping.NewImporter(mapping.ImporterConfig{}); return err },
	"mapping.NewService":             func() error { _, err := mapping.NewService(mapping.Config{}); return err },
	"provider.NewVerifier":           func() error { _, err := provider.NewVerifier(provider.Config{}); return err },
	"routing.NewAccessLog":           func() error { _, err := routing.NewAccessLog(routing.AccessLogConfig{}); return err },
	"routing.NewAccessRecords":       func() error { _, err := routing.NewAccessRecords(routing.AccessRecordsConfig{}); return err },
	"routing.NewAnchorer":            func() error { _, err := routing.NewAnchorer(routing.AnchorerConfig{}); return err },
	"routing.NewConsentService":      func() error { _, err := routing.NewConsentService(routing.ConsentConfig{}); return err },
	"routing.NewDirectory":           func() error { _, err := routing.NewDirectory(routing.DirectoryConfig{}); return err },
	"routing.NewProxy":               func() error { _, err := routing.NewProxy(routing.ProxyConfig{}); return err },
	"routing.NewRegistry":            func() error { _, err := routing.NewRegistry(routing.RegistryConfig{}); return err },
	"routing.NewRuleService":         func() error { _, err := routing.NewRuleService(routing.RuleConfig{}); return err },
	"routing.NewDisputeService":      func() error { _, err := routing.NewDisputeService(routing.DisputeConfig{}); return err },
	"routing.NewResolver":            func() error { _, err := routing.NewResolver(routing.ResolverConfig{}); return err },
	"routing.NewRoutes":              func() error { _, err := routing.NewRoutes(routing.RoutesConfig{}); return err },
	"routing.NewVerifier":            func() error { _, err := routing.NewVerifier(routing.VerifierConfig{}); return err },
	"routing/ticket.NewIntrospector": func() error { _, err := ticket.NewIntrospector(ticket.IntrospectorConfig{}); return err },
	"routing/ticket.NewIssuer":       func() error { _, err := ticket.NewIssuer(ticket.IssuerConfig{}); return err },
}

// optionalOnly are the constructors whose every setting has a default:
// their zero Config is a working one.
var optionalOnly = []string{"cache.NewMemory", "cache.NewMemoryLimiter"}

// TestZeroConfigIsAnErrorNeverAPanic: a constructor given a zero Config
// names what is missing instead of building something that panics later.
func TestZeroConfigIsAnErrorNeverAPanic(t *testing.T) {
	t.Parallel()
	for name, build := range zeroConfig {
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
					t.Errorf("%s(zero Config) panics: %v", name, r)
				}
			}()
			return build()
		}()
		switch {
		case slices.Contains(optionalOnly, name) && err != nil:
			t.Errorf("%s(zero Config) = %v; every setting has a default, want it built", name, err)
		case !slices.Contains(optionalOnly, name) && err == nil:
			t.Errorf("%s(zero Config) builds; want an error naming the missing dependency", name)
		}
	}
}

// TestEveryConstructorIsListed: a new NewX(Config) constructor joins
// zeroConfig, so the test above covers it.
func TestEveryConstructorIsListed(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), "cmd")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "New") || fn.Type.Params.NumFields() != 1 || fn.Type.Results.NumFields() != 2 {
				continue
			}
			if id, ok := fn.Type.Params.List[0].Type.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Config") {
				found = append(found, filepath.ToSlash(rel)+"."+fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("found no NewX(Config) constructor: the walk is broken")
	}
	for _, name := range found {
		if zeroConfig[name] == nil {
			t.Errorf("%s(Config) is not in zeroConfig", name)
		}
	}
	for name := range zeroConfig {
		if !slices.Contains(found, name) {
			t.Errorf("zeroConfig lists %s, which is not a NewX(Config) constructor any more", name)
		}
	}
}
