package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/ledger"
	"gopkg.in/yaml.v3"
)

// yamlFiles returns every YAML file under deploy/, skipping the work dir of
// network.sh.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".network" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d YAML files: %v", len(files), files)
	}
	return files
}

// documents decodes every document of a (multi-document) YAML file.
func documents(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

func TestEveryYAMLFileParses(t *testing.T) {
	for _, f := range yamlFiles(t) {
		if docs := documents(t, f); len(docs) == 0 {
			t.Errorf("%s holds no YAML document", f)
		}
	}
}

// get walks a decoded YAML tree by map keys and list indexes.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %T is not a map", path, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("no key %q on path %v", k, path)
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: no index %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func str(t *testing.T, v any, path ...any) string {
	t.Helper()
	s, ok := get(t, v, path...).(string)
	if !ok {
		t.Fatalf("%v is not a string", path)
	}
	return s
}

func list(t *testing.T, v any, path ...any) []any {
	t.Helper()
	l, ok := get(t, v, path...).([]any)
	if !ok {
		t.Fatalf("%v is not a list", path)
	}
	return l
}

func TestConfigtxChannelProfiles(t *testing.T) {
	cfg := documents(t, "fabric/configtx.yaml")[0]
	crypto := documents(t, "fabric/crypto-config.yaml")[0]

	domains := map[string]bool{}
	for _, o := range list(t, crypto, "PeerOrgs") {
		domains["peerOrganizations/"+str(t, o, "Domain")] = true
		if get(t, o, "EnableNodeOUs") != true {
			t.Errorf("peer org %v: EnableNodeOUs is not true", get(t, o, "Name"))
		}
	}
	for _, o := range list(t, crypto, "OrdererOrgs") {
		domains["ordererOrganizations/"+str(t, o, "Domain")] = true
		if get(t, o, "EnableNodeOUs") != true {
			t.Errorf("orderer org: EnableNodeOUs is not true")
		}
	}

	for _, tc := range []struct {
		profile    string
		consenters int
	}{{"eidgate", 3}, {"eidgate-dev", 1}} {
		t.Run(tc.profile, func(t *testing.T) {
			p := get(t, cfg, "Profiles", tc.profile)
			if got := get(t, p, "Application", "Capabilities"); !reflect.DeepEqual(got, map[string]any{"V2_5": true}) {
				t.Errorf("application capabilities %v, want V2_5", got)
			}
			if got := get(t, p, "Capabilities"); !reflect.DeepEqual(got, map[string]any{"V2_0": true}) {
				t.Errorf("channel capabilities %v, want V2_0", got)
			}
			if got := get(t, p, "Orderer", "Capabilities"); !reflect.DeepEqual(got, map[string]any{"V2_0": true}) {
				t.Errorf("orderer capabilities %v, want V2_0", got)
			}
			if str(t, p, "Orderer", "OrdererType") != "etcdraft" {
				t.Errorf("orderer type %v", get(t, p, "Orderer", "OrdererType"))
			}
			consenters := list(t, p, "Orderer", "EtcdRaft", "Consenters")
			if len(consenters) != tc.consenters {
				t.Fatalf("%d consenters, want %d", len(consenters), tc.consenters)
			}
			endpoints := list(t, p, "Orderer", "Organizations", 0, "OrdererEndpoints")
			for i, c := range consenters {
				host, port := str(t, c, "Host"), get(t, c, "Port")
				for _, k := range []string{"ClientTLSCert", "ServerTLSCert"} {
					if !strings.Contains(str(t, c, k), "/"+host+"/tls/") {
						t.Errorf("consenter %s: %s %s is not its own TLS certificate", host, k, str(t, c, k))
					}
				}
				if want := host + ":" + itoa(port); i >= len(endpoints) || endpoints[i] != want {
					t.Errorf("consenter %s not listed in OrdererEndpoints %v", want, endpoints)
				}
			}
			if len(endpoints) != tc.consenters {
				t.Errorf("OrdererEndpoints %v, want one per consenter", endpoints)
			}

			var msps []string
			for _, org := range list(t, p, "Application", "Organizations") {
				msps = append(msps, str(t, org, "ID"))
				for _, pol := range []string{"Readers", "Writers", "Admins", "Endorsement"} {
					get(t, org, "Policies", pol, "Rule")
				}
				if len(list(t, org, "AnchorPeers")) == 0 {
					t.Errorf("%s has no anchor peer", str(t, org, "ID"))
				}
				checkMSPDir(t, str(t, org, "MSPDir"), domains)
			}
			checkMSPDir(t, str(t, p, "Orderer", "Organizations", 0, "MSPDir"), domains)
			sort.Strings(msps)
			if want := []string{"CivilAffairsMSP", "EduBureauMSP", "PlatformMSP"}; !reflect.DeepEqual(msps, want) {
				t.Errorf("application orgs %v, want %v", msps, want)
			}
			for pol, rule := range map[string]string{"Endorsement": "MAJORITY Endorsement", "LifecycleEndorsement": "MAJORITY Endorsement", "Admins": "MAJORITY Admins"} {
				if got := str(t, p, "Application", "Policies", pol, "Rule"); got != rule {
					t.Errorf("Application %s = %q, want %q", pol, got, rule)
				}
			}
		})
	}
}

func checkMSPDir(t *testing.T, dir string, domains map[string]bool) {
	t.Helper()
	parts := strings.Split(dir, "/")
	if len(parts) != 4 || parts[0] != "crypto-config" || parts[3] != "msp" || !domains[parts[1]+"/"+parts[2]] {
		t.Errorf("MSPDir %s is not an organisation MSP that crypto-config.yaml generates", dir)
	}
}

func itoa(v any) string {
	n, ok := v.(int)
	if !ok {
		return fmt.Sprint(v)
	}
	return strconv.Itoa(n)
}

func TestCCaaSBuilderStanza(t *testing.T) {
	doc := documents(t, "fabric/core-ccaas-builder.yaml")[0]
	b := get(t, doc, "chaincode", "externalBuilders", 0)
	if str(t, b, "name") != "ccaas_builder" || str(t, b, "path") != "/opt/hyperledger/ccaas_builder" {
		t.Errorf("builder %v", b)
	}
	if env := list(t, b, "propagateEnvironment"); !reflect.DeepEqual(env, []any{"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"}) {
		t.Errorf("propagateEnvironment %v", env)
	}
}

// TestComposeMatchesConfigtx checks that every consenter and anchor peer of
// the production profile is a compose service listening on that port.
func TestComposeMatchesConfigtx(t *testing.T) {
	cfg := documents(t, "fabric/configtx.yaml")[0]
	compose := documents(t, "fabric/compose.yaml")[0]
	services := get(t, compose, "services").(map[string]any)
	listens := func(svc any, port string) bool {
		env := get(t, svc, "environment").(map[string]any)
		for _, k := range []string{"ORDERER_GENERAL_LISTENPORT", "CORE_PEER_LISTENADDRESS"} {
			if v, ok := env[k].(string); ok && (v == port || strings.HasSuffix(v, ":"+port)) {
				return true
			}
		}
		return false
	}
	var nodes [][2]string
	for _, c := range list(t, cfg, "Profiles", "eidgate", "Orderer", "EtcdRaft", "Consenters") {
		nodes = append(nodes, [2]string{str(t, c, "Host"), itoa(get(t, c, "Port"))})
	}
	for _, org := range list(t, cfg, "Profiles", "eidgate", "Application", "Organizations") {
		a := get(t, org, "AnchorPeers", 0)
		nodes = append(nodes, [2]string{str(t, a, "Host"), itoa(get(t, a, "Port"))})
	}
	for _, n := range nodes {
		svc, ok := services[n[0]]
		if !ok {
			t.Errorf("no compose service %s", n[0])
			continue
		}
		if !listens(svc, n[1]) {
			t.Errorf("compose service %s does not listen on %s", n[0], n[1])
		}
	}
}

func TestConnectionProfileExample(t *testing.T) {
	raw, err := os.ReadFile("fabric/connection-profile.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p ledger.Profile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // as ledger.LoadProfile decodes it
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Peer.Endpoint == "" {
		t.Errorf("p.Peer.Endpoint == \"\", want it different; profile %+v", p)
	} else if p.Peer.TLSCACert == "" {
		t.Errorf("p.Peer.TLSCACert == \"\", want it different; profile %+v", p)
	} else if p.MSP.ID != "PlatformMSP" {
		t.Errorf("p.MSP.ID = %q, want \"PlatformMSP\"; profile %+v", p.MSP.ID, p)
	} else if p.MSP.Dir == "" {
		t.Errorf("p.MSP.Dir == \"\", want it different; profile %+v", p)
	} else if p.Channel != "eidgate" {
		t.Errorf("p.Channel = %q, want \"eidgate\"; profile %+v", p.Channel, p)
	} else if p.Chaincode != "eidgate" {
		t.Errorf("p.Chaincode = %q, want \"eidgate\"; profile %+v", p.Chaincode, p)
	}
	if p.Timeouts.Endorse <= 0 {
		t.Errorf("p.Timeouts.Endorse = %v, want > 0; timeouts %+v", p.Timeouts.Endorse, p.Timeouts)
	} else if p.Timeouts.CommitStatus <= 0 {
		t.Errorf("p.Timeouts.CommitStatus = %v, want > 0; timeouts %+v", p.Timeouts.CommitStatus, p.Timeouts)
	}
	// The files it names are not here, so LoadProfile must fail on them and
	// not on the structure.
	_, err = ledger.LoadProfile("fabric/connection-profile.example.yaml")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("LoadProfile error %v, want a missing-file error", err)
	}
}

type k8sObject struct {
	path string
	doc  map[string]any
}

func k8sObjects(t *testing.T, dir string) []k8sObject {
	t.Helper()
	var objs []k8sObject
	matches, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range matches {
		for _, d := range documents(t, f) {
			if _, ok := d["kind"]; ok {
				objs = append(objs, k8sObject{f, d})
			}
		}
	}
	return objs
}

func TestKustomizationsListExistingFiles(t *testing.T) {
	for _, dir := range []string{"k8s/base", "k8s/overlays/example"} {
		k := documents(t, filepath.Join(dir, "kustomization.yaml"))[0]
		var refs []any
		refs = append(refs, list(t, k, "resources")...)
		if p, ok := k["patches"].([]any); ok {
			for _, x := range p {
				refs = append(refs, get(t, x, "path"))
			}
		}
		for _, r := range refs {
			if _, err := os.Stat(filepath.Join(dir, r.(string))); err != nil {
				t.Errorf("%s: %v", dir, err)
			}
		}
	}
}

func TestK8sDeployments(t *testing.T) {
	objs := k8sObjects(t, "k8s/base")
	labelsOf := map[string]map[string]any{}
	found := 0
	for _, o := range objs {
		if o.doc["kind"] != "Deployment" {
			continue
		}
		found++
		name := str(t, o.doc, "metadata", "name")
		spec := get(t, o.doc, "spec", "template", "spec")
		labelsOf[name] = get(t, o.doc, "spec", "template", "metadata", "labels").(map[string]any)
		if !reflect.DeepEqual(get(t, o.doc, "spec", "selector", "matchLabels"), map[string]any{"app.kubernetes.io/name": name}) {
			t.Errorf("%s: selector does not match its name label", name)
		}
		if get(t, spec, "securityContext", "runAsNonRoot") != true {
			t.Errorf("%s: pod may run as root", name)
		}
		for _, c := range list(t, spec, "containers") {
			sc := get(t, c, "securityContext")
			if get(t, sc, "readOnlyRootFilesystem") != true || get(t, sc, "allowPrivilegeEscalation") != false {
				t.Errorf("%s: container security context %v", name, sc)
			}
			get(t, c, "resources", "requests", "memory")
			get(t, c, "resources", "limits", "memory")
			ready, live := get(t, c, "readinessProbe").(map[string]any), get(t, c, "livenessProbe").(map[string]any)
			if name == "eidgate-gateway" {
				if str(t, ready, "httpGet", "path") != "/readyz" || str(t, live, "httpGet", "path") != "/healthz" {
					t.Errorf("gateway probes: readiness %v, liveness %v", ready, live)
				}
				if get(t, o.doc, "spec", "replicas") != 2 {
					t.Errorf("gateway replicas %v, want 2", get(t, o.doc, "spec", "replicas"))
				}
				env := map[string]bool{}
				for _, e := range list(t, c, "env") {
					env[str(t, e, "name")] = get(t, e, "valueFrom", "secretKeyRef", "name") != nil
				}
				if !env["EIDGATE_DB"] || !env["EIDGATE_REDIS"] {
					t.Errorf("gateway: database and Redis URLs must come from Secrets: %v", env)
				}
			} else {
				// gRPC only: the probes check the listener.
				if get(t, ready, "tcpSocket", "port") != "grpc" || get(t, live, "tcpSocket", "port") != "grpc" {
					t.Errorf("%s probes: readiness %v, liveness %v", name, ready, live)
				}
				if p := get(t, c, "ports", 0, "containerPort"); p != 9999 {
					t.Errorf("%s: port %v, want 9999", name, p)
				}
			}
		}
	}
	if found != 2 {
		t.Fatalf("%d Deployments in the base, want gateway and chaincode", found)
	}
	// Services and the PDB select pods that exist.
	for _, o := range objs {
		var sel map[string]any
		switch o.doc["kind"] {
		case "Service":
			sel = get(t, o.doc, "spec", "selector").(map[string]any)
		case "PodDisruptionBudget":
			sel = get(t, o.doc, "spec", "selector", "matchLabels").(map[string]any)
		default:
			continue
		}
		matched := false
		for _, labels := range labelsOf {
			ok := true
			for k, v := range sel {
				if labels[k] != v {
					ok = false
				}
			}
			matched = matched || ok
		}
		if !matched {
			t.Errorf("%s %v selects no Deployment's pods", o.doc["kind"], sel)
		}
	}
}

// TestSystemdUnits checks the units start the right program with an
// environment file and the key hardening options.
func TestSystemdUnits(t *testing.T) {
	for unit, exec := range map[string]string{
		"systemd/eidgate.service":           "/usr/local/bin/eidgate serve",
		"systemd/eidgate-chaincode.service": "/usr/local/bin/eidgate-chaincode",
	} {
		f, err := os.Open(unit)
		if err != nil {
			t.Fatal(err)
		}
		kv := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				kv[k] = v
			}
		}
		f.Close()
		if kv["ExecStart"] != exec || !strings.HasPrefix(kv["EnvironmentFile"], "/etc/eidgate/") {
			t.Errorf("%s: ExecStart %q, EnvironmentFile %q", unit, kv["ExecStart"], kv["EnvironmentFile"])
		}
		for _, k := range []string{"NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectHome"} {
			if kv[k] == "" || kv[k] == "no" {
				t.Errorf("%s: %s not set", unit, k)
			}
		}
		if kv["User"] == "" || kv["User"] == "root" {
			t.Errorf("%s: runs as %q", unit, kv["User"])
		}
	}
}
