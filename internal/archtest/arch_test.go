package archtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/eidgate/eidgate"

// pkg is one package of the module as `go list` sees it.
type pkg struct {
	imports []string // direct imports
	deps    []string // every package it depends on, transitively
}

// listed is the module as `go list -deps` sees it, listed once for every
// test.
var listed = sync.OnceValues(func() (map[string]pkg, error) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 3 {
			return nil, fmt.Errorf("go list: unexpected line %q", sc.Text())
		}
		pkgs[parts[0]] = pkg{imports: strings.Fields(parts[1]), deps: strings.Fields(parts[2])}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, errors.New("go list found no package")
	}
	return pkgs, nil
})

func listModule(t *testing.T) map[string]pkg {
	t.Helper()
	t.Parallel()
	pkgs, err := listed()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// within reports whether path is the module package rel or one below it.
func within(path, rel string) bool {
	p := module + "/" + rel
	return path == p || strings.HasPrefix(path, p+"/")
}

// standard reports whether path is in the standard library (its first
// element has no dot).
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// get is the package rel of the module; a rule naming a package that is
// gone fails rather than passing vacuously.
func get(t *testing.T, pkgs map[string]pkg, rel string) pkg {
	t.Helper()
	p, ok := pkgs[module+"/"+rel]
	if !ok {
		t.Fatalf("package %s is not in the module any more: update the rule", rel)
	}
	return p
}

// TestDomainImportsNoAdapter: the domain packages and the on-chain model
// depend on no adapter — neither the HTTP gateway, the database, the
// ledger client, the cache nor the pages.
func TestDomainImportsNoAdapter(t *testing.T) {
	pkgs := listModule(t)
	adapters := []string{"gateway", "store", "ledger", "cache", "web"}
	for _, rel := range []string{"routing", "mapping", "accounts", "policies", "audit", "chaincode/model"} {
		for _, d := range get(t, pkgs, rel).deps {
			for _, a := range adapters {
				if within(d, a) {
					t.Errorf("%s depends on %s; the domain must not know its adapters", rel, strings.TrimPrefix(d, module+"/"))
				}
			}
		}
	}
}

// contractapiSchemaLibrary is the JSON Schema library of contractapi's
// metadata API.
const contractapiSchemaLibrary = "github.com/xeipuuv/gojsonschema"

// TestChaincodeImportsOnlyFabricAndModel: the chaincode, and the binary
// that runs it, import the standard library, Fabric's libraries and the
// on-chain model only — what is deployed to the peers carries nothing of
// the gateway. The one other library it may name is the JSON Schema
// library that contractapi's metadata API exposes (its compiled schemas),
// which the chaincode carries through contractapi anyway.
func TestChaincodeImportsOnlyFabricAndModel(t *testing.T) {
	pkgs := listModule(t)
	allowed := map[string][]string{
		"chaincode":             {"chaincode/model"},
		"chaincode/model":       nil,
		"cmd/eidgate-chaincode": {"chaincode", "chaincode/model"},
	}
	for rel, ours := range allowed {
		p := get(t, pkgs, rel)
		for _, imp := range p.imports {
			switch {
			case standard(imp), strings.HasPrefix(imp, "github.com/hyperledger/fabric-"), imp == contractapiSchemaLibrary:
			case strings.HasPrefix(imp, module+"/") && slices.Contains(ours, strings.TrimPrefix(imp, module+"/")):
			default:
				t.Errorf("%s imports %s; the chaincode imports only Fabric's libraries and its model", rel, imp)
			}
		}
		for _, d := range p.deps {
			if strings.HasPrefix(d, module+"/") && !slices.Contains(ours, strings.TrimPrefix(d, module+"/")) {
				t.Errorf("%s depends on %s; the chaincode depends on its model only", rel, strings.TrimPrefix(d, module+"/"))
			}
		}
	}
}

// TestLedgerClientImportsNoDevnet: the ledger client speaks the Fabric
// Gateway protocol to any network; the embedded development network is one
// server of it, never a dependency of the client.
func TestLedgerClientImportsNoDevnet(t *testing.T) {
	pkgs := listModule(t)
	for path, p := range pkgs {
		if !within(path, "ledger") || within(path, "ledger/devnet") {
			continue
		}
		for _, d := range p.deps {
			if within(d, "ledger/devnet") {
				t.Errorf("%s depends on %s", strings.TrimPrefix(path, module+"/"), strings.TrimPrefix(d, module+"/"))
			}
		}
	}
}

// TestGatewayImportsNoStoreOrLedger: the HTTP layer reaches data only
// through the domain services.
func TestGatewayImportsNoStoreOrLedger(t *testing.T) {
	pkgs := listModule(t)
	for _, d := range get(t, pkgs, "gateway").deps {
		if within(d, "store") || within(d, "ledger") {
			t.Errorf("gateway depends on %s; handlers call domain services, never the database or the ledger", strings.TrimPrefix(d, module+"/"))
		}
	}
}

// TestWebImportsNoDomain: the page templates and assets know nothing of
// the domain; the gateway hands them plain view data.
func TestWebImportsNoDomain(t *testing.T) {
	pkgs := listModule(t)
	for _, d := range get(t, pkgs, "web").deps {
		if strings.HasPrefix(d, module+"/") {
			t.Errorf("web depends on %s; it renders view data only", strings.TrimPrefix(d, module+"/"))
		}
	}
}
