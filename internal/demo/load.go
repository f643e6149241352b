package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
)

// Info is demo.json: where the gateway is and the credentials of the
// demo consortium.
type Info struct {
	GatewayURL string `json:"gateway_url"`
	// Database and Ledger say where the demo was loaded (LoaderConfig's
	// Database and LedgerKind): its accounts and keys exist there only.
	Database    string          `json:"database,omitempty"`
	Ledger      string          `json:"ledger,omitempty"`
	Departments []DepartmentKey `json:"departments"`
	Residents   []ResidentLogin `json:"residents"`
	Admin       StaffLogin      `json:"admin"`
	// Staff are the other console roles (mapping officer, auditor).
	Staff []StaffLogin `json:"staff"`
	// Credentials are the sample credentials, one compact token per file.
	Credentials []SampleCredential `json:"credentials"`
}

// SampleCredential is a sample credential the demo issued: its subject,
// data type and file (relative to the data dir).
type SampleCredential struct {
	EID  string `json:"eid"`
	Type string `json:"type"`
	Path string `json:"path"`
}

// DepartmentKey is a demo department and its API key.
type DepartmentKey struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	APIKey string `json:"api_key"`
}

// ResidentLogin is a demo resident's sign-in.
type ResidentLogin struct {
	DocType   string `json:"doc_type"`
	DocNumber string `json:"doc_number"`
	Country   string `json:"country,omitempty"`
	EID       string `json:"eid"`
	Password  string `json:"password"`
}

// StaffLogin is a console account.
type StaffLogin struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role,omitempty"`
}

// InfoFile is where the loader writes Info in the data dir.
const InfoFile = "demo.json"

// KeyDir is where the demo keeps its departments' signing keys
// (<department>.pem) in dataDir; the gateway issues credentials with them
// unless told another directory.
func KeyDir(dataDir string) string { return filepath.Join(dataDir, "demo", "keys") }

// ReadInfo reads the demo.json a loader wrote in dataDir.
func ReadInfo(dataDir string) (*Info, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, InfoFile))
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", InfoFile, err)
	}
	return &info, nil
}

// RegistryReader reads the registry as the ledger holds it now.
type RegistryReader interface {
	GetDepartment(ctx context.Context, id string) (*model.Department, error)
	GetDataType(ctx context.Context, code string) (*model.DataType, error)
}

// LoaderConfig is what the demo loader writes through: the gateway's own
// services, so that the demo consortium is loaded by the rules any
// department, officer and administrator meets.
type LoaderConfig struct {
	DataDir     string              // required
	URL         string              // required: the gateway's base URL (the sample provider answers under it)
	Ledger      RegistryReader      // required
	Registry    *routing.Registry   // required
	Routes      *routing.Routes     // required
	Policy      *policies.Engine    // required
	Mapping     *mapping.Service    // required
	Residents   *accounts.Residents // required
	Admins      *accounts.Admins    // required
	APIKeys     *accounts.APIKeys   // required
	Credentials *credential.Service // required
	Provider    *Provider           // required
	// Database and LedgerKind describe where the demo is loaded, for
	// demo.json: e.g. "SQLite in the data dir" or "postgres://host:5432/db"
	// (never a password), and "devnet" or "fabric".
	Database, LedgerKind string
}

// Loader loads the demo consortium onto a gateway.
type Loader struct{ cfg LoaderConfig }

// NewLoader returns a Loader after checking that every service is given.
func NewLoader(cfg LoaderConfig) (*Loader, error) {
	for _, f := range []struct {
		name  string
		unset bool
	}{
		{"DataDir", cfg.DataDir == ""}, {"URL", cfg.URL == ""}, {"Ledger", cfg.Ledger == nil},
		{"Registry", cfg.Registry == nil}, {"Routes", cfg.Routes == nil}, {"Policy", cfg.Policy == nil},
		{"Mapping", cfg.Mapping == nil}, {"Residents", cfg.Residents == nil}, {"Admins", cfg.Admins == nil},
		{"APIKeys", cfg.APIKeys == nil}, {"Credentials", cfg.Credentials == nil}, {"Provider", cfg.Provider == nil},
	} {
		if f.unset {
			return nil, fmt.Errorf("NewLoader: %s is required", f.name)
		}
	}
	return &Loader{cfg: cfg}, nil
}

func (l *Loader) keyDir() string { return KeyDir(l.cfg.DataDir) }

// Load loads the demo consortium on a fresh data dir, or picks up the
// one loaded before (updating the provider endpoints when the gateway's
// address changed). A load interrupted half way is completed on the next
// start: every step accepts what already exists.
func (l *Loader) Load(ctx context.Context) (*Info, error) {
	if err := os.MkdirAll(l.keyDir(), 0o700); err != nil {
		return nil, err
	}
	if saved, err := ReadInfo(l.cfg.DataDir); err == nil {
		recs, err := LoadRecords(l.cfg.DataDir)
		if err != nil {
			return nil, err
		}
		l.cfg.Provider.SetRecords(recs)
		if saved.GatewayURL != l.cfg.URL {
			if err := l.departments(ctx); err != nil {
				return nil, err
			}
			saved.GatewayURL = l.cfg.URL
			if err := WriteJSON(filepath.Join(l.cfg.DataDir, InfoFile), saved); err != nil {
				return nil, err
			}
		}
		return saved, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}

	var info Info
	if err := l.departments(ctx); err != nil {
		return nil, err
	}
	if err := l.dataTypes(ctx); err != nil {
		return nil, err
	}
	if _, _, err := l.cfg.Policy.LoadDefaults(ctx, "demo"); err != nil {
		return nil, fmt.Errorf("default policy: %w", err)
	}
	info.GatewayURL, info.Database, info.Ledger = l.cfg.URL, l.cfg.Database, l.cfg.LedgerKind
	recs, residents, err := l.residents(ctx)
	if err != nil {
		return nil, err
	}
	info.Residents = residents
	// Saved before they are published, so that a rerun after an interrupted
	// load publishes the same digests again (an idempotent no-op).
	if err := SaveRecords(l.cfg.DataDir, recs); err != nil {
		return nil, err
	}
	if err := l.publishRecords(ctx, recs); err != nil {
		return nil, err
	}
	creds, err := l.credentials(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	info.Credentials = creds
	l.cfg.Provider.SetRecords(recs)
	for _, d := range Departments {
		token, _, err := l.cfg.APIKeys.IssueAPIKey(ctx, d.ID, "demo")
		if err != nil {
			return nil, fmt.Errorf("API key for %s: %w", d.ID, err)
		}
		info.Departments = append(info.Departments, DepartmentKey{ID: d.ID, Name: d.NameEN, APIKey: token})
	}
	for _, u := range []struct{ name, role string }{
		{"admin", accounts.RoleAdmin}, {"officer", accounts.RoleMappingOfficer}, {"auditor", accounts.RoleAuditor},
	} {
		pw := password()
		_, err := l.cfg.Admins.CreateAdmin(ctx, u.name, pw, u.role)
		if routing.IsKind(err, routing.KindConflict) {
			// Left by an interrupted load: give it the password demo.json
			// will name.
			err = l.cfg.Admins.SetPassword(ctx, u.name, pw)
		}
		if err != nil {
			return nil, fmt.Errorf("console user %s: %w", u.name, err)
		}
		du := StaffLogin{Username: u.name, Password: pw, Role: u.role}
		if u.role == accounts.RoleAdmin {
			info.Admin = du
		} else {
			info.Staff = append(info.Staff, du)
		}
	}
	if err := WriteJSON(filepath.Join(l.cfg.DataDir, InfoFile), info); err != nil {
		return nil, err
	}
	return &info, nil
}

// key returns a department's route-signing key, creating it once.
func (l *Loader) key(dept string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(l.keyDir(), dept+".pem")
	k, err := readKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := safefile.CreateSecret(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return k, nil
}

// SigningKey is the route-signing key a loaded demo keeps in dataDir for
// department dept, and its key id on the ledger: with it, routes are
// published in the department's name as its own system would.
func SigningKey(dataDir, dept string) (*ecdsa.PrivateKey, string, error) {
	k, err := readKey(filepath.Join(KeyDir(dataDir), dept+".pem"))
	if err != nil {
		return nil, "", err
	}
	return k, keyID(dept, k), nil
}

// readKey reads a PKCS #8 PEM ECDSA key; a missing file is os.ErrNotExist.
func readKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := safefile.ReadSecret(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", path)
	}
	return ek, nil
}

// keyID names a department's demo signing key after the key itself, so
// that a demo loaded from another data dir onto the same ledger adds its
// key instead of clashing with a key id already registered.
func keyID(dept string, key *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	sum := sha256.Sum256(der)
	return dept + "-" + hex.EncodeToString(sum[:4])
}

// departments registers the departments, or brings a registered one
// up to this gateway: its endpoint at this gateway's address and this data
// dir's signing key among its keys (a ledger that outlives the data dir,
// as a real network does).
func (l *Loader) departments(ctx context.Context) error {
	for _, d := range Departments {
		key, err := l.key(d.ID)
		if err != nil {
			return err
		}
		pub, err := model.MarshalPublicKey(&key.PublicKey)
		if err != nil {
			return err
		}
		ours := model.SigningKey{KID: keyID(d.ID, key), PublicKeyPEM: pub, Status: model.KeyActive}
		dept := model.Department{
			ID: d.ID, Name: d.Name, NameEN: d.NameEN, MSPID: d.MSPID,
			Endpoints:   []string{l.cfg.URL + ProviderPath + d.ID},
			SigningKeys: []model.SigningKey{ours},
			Roles:       d.Roles,
			Status:      model.DepartmentActive,
		}
		existing, err := l.cfg.Ledger.GetDepartment(ctx, d.ID)
		switch {
		case routing.IsKind(err, routing.KindNotFound):
			if _, err := l.cfg.Registry.RegisterDepartment(ctx, dept); err != nil {
				return fmt.Errorf("register %s: %w", d.ID, err)
			}
		case err != nil:
			return err
		default:
			_, hasKey := existing.Key(ours.KID)
			if hasKey && slices.Equal(existing.Endpoints, dept.Endpoints) && slices.Equal(existing.Roles, dept.Roles) {
				break
			}
			existing.Endpoints, existing.Roles = dept.Endpoints, dept.Roles
			if !hasKey {
				existing.SigningKeys = append(existing.SigningKeys, ours)
			}
			if _, err := l.cfg.Registry.UpdateDepartment(ctx, *existing); err != nil {
				return fmt.Errorf("update %s: %w", d.ID, err)
			}
		}
	}
	return nil
}

func (l *Loader) dataTypes(ctx context.Context) error {
	for _, dt := range DataTypes {
		_, err := l.cfg.Ledger.GetDataType(ctx, dt.Code)
		if err == nil {
			continue
		}
		if !routing.IsKind(err, routing.KindNotFound) {
			return err
		}
		if _, err := l.cfg.Registry.RegisterDataType(ctx, model.DataType{
			Code: dt.Code, Name: dt.Name, NameEN: dt.NameEN, Schema: dt.Schema, Owners: []string{dt.Owner}, Predicates: dt.Predicates,
		}); err != nil {
			return fmt.Errorf("data type %s: %w", dt.Code, err)
		}
	}
	return nil
}

// residents creates the residents' eIDs at the "KYC counter", activates
// their portal accounts and prepares their records with fresh salts. The
// records of an interrupted load are kept: their digests may already be on
// the ledger.
func (l *Loader) residents(ctx context.Context) ([]StoredRecord, []ResidentLogin, error) {
	owner := map[string]string{}
	for _, dt := range DataTypes {
		owner[dt.Code] = dt.Owner
	}
	saved := map[string]StoredRecord{}
	if prev, err := LoadRecords(l.cfg.DataDir); err == nil {
		for _, r := range prev {
			saved[r.EID+"|"+r.DataType] = r
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	var recs []StoredRecord
	var out []ResidentLogin
	for _, r := range Residents {
		docs := r.Documents
		var eid, code string
		created, err := l.cfg.Mapping.Create(ctx, docs, "demo")
		switch {
		case err == nil:
			eid, code = created.EID, created.ActivationCode
		case routing.CodeOf(err) == "document_already_mapped":
			// A load interrupted after this resident was created.
			if eid, err = l.cfg.Mapping.Find(ctx, docs[0]); err != nil {
				return nil, nil, err
			}
			if code, err = l.cfg.Mapping.NewActivationCode(ctx, eid, "demo"); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("resident %d: %w", len(out)+1, err)
		}
		pw := password()
		if err := l.cfg.Residents.Activate(ctx, eid, code, pw); err != nil {
			return nil, nil, fmt.Errorf("activate resident %d: %w", len(out)+1, err)
		}
		first := r.Documents[0]
		out = append(out, ResidentLogin{DocType: string(first.Type), DocNumber: first.Number, Country: first.Country, EID: eid, Password: pw})
		for _, rec := range r.Records {
			if prev, ok := saved[eid+"|"+rec.DataType]; ok {
				recs = append(recs, prev)
				continue
			}
			salt := digest.NewSalt()
			body := RecordJSON(rec)
			dg, err := digest.Compute(body, salt)
			if err != nil {
				return nil, nil, err
			}
			recs = append(recs, StoredRecord{
				EID: eid, DataType: rec.DataType, Provider: owner[rec.DataType], Version: 1,
				Salt: digest.EncodeSalt(salt), Digest: dg, Record: body,
			})
		}
	}
	return recs, out, nil
}

// publishRecords signs each record's route statement with its
// department's key and publishes them, one batch per department.
func (l *Loader) publishRecords(ctx context.Context, recs []StoredRecord) error {
	batches := map[string][]model.SignedRoute{}
	for _, r := range recs {
		key, err := l.key(r.Provider)
		if err != nil {
			return err
		}
		signed, err := model.SignRoute(key, keyID(r.Provider, key), model.RouteStatement{
			EID: r.EID, DataType: r.DataType, Provider: r.Provider, Version: r.Version, Digest: r.Digest, Schema: r.DataType + "/1",
		})
		if err != nil {
			return err
		}
		batches[r.Provider] = append(batches[r.Provider], signed)
	}
	for _, d := range Departments {
		if len(batches[d.ID]) == 0 {
			continue
		}
		if _, err := l.cfg.Routes.Publish(ctx, d.ID, batches[d.ID]); err != nil {
			return fmt.Errorf("publish %s routes: %w", d.ID, err)
		}
	}
	return nil
}

// password is a random password that passes the account policy.
func password() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return "Demo-" + string(b) + "-7"
}
