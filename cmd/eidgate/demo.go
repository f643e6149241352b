package main

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
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
)

// DemoInfo is demo.json: where the gateway is and the credentials of the
// demo consortium.
type DemoInfo struct {
	GatewayURL  string           `json:"gateway_url"`
	Departments []DemoDepartment `json:"departments"`
	Residents   []DemoResident   `json:"residents"`
	Admin       DemoUser         `json:"admin"`
	// Staff are the other console roles (mapping officer, auditor).
	Staff []DemoUser `json:"staff"`
}

// DemoDepartment is a demo department and its API key.
type DemoDepartment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	APIKey string `json:"api_key"`
}

// DemoResident is a demo resident's sign-in.
type DemoResident struct {
	DocType   string `json:"doc_type"`
	DocNumber string `json:"doc_number"`
	Country   string `json:"country,omitempty"`
	EID       string `json:"eid"`
	Password  string `json:"password"`
}

// DemoUser is a console account.
type DemoUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role,omitempty"`
}

const demoFile = "demo.json"

func (m *Main) demoDir() string { return filepath.Join(m.Config.DataDir, "demo") }

// loadDemo loads the demo consortium on a fresh data dir, or picks up the
// one loaded before (updating the provider endpoints when the gateway's
// address changed). A load interrupted half way is completed on the next
// start: every step accepts what already exists.
func (m *Main) loadDemo(ctx context.Context) (*DemoInfo, error) {
	if err := os.MkdirAll(filepath.Join(m.demoDir(), "keys"), 0o700); err != nil {
		return nil, err
	}
	var info DemoInfo
	if raw, err := os.ReadFile(filepath.Join(m.Config.DataDir, demoFile)); err == nil {
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("%s: %w", demoFile, err)
		}
		recs, err := demo.LoadRecords(m.Config.DataDir)
		if err != nil {
			return nil, err
		}
		m.provider.SetRecords(recs)
		if info.GatewayURL != m.url {
			if err := m.demoDepartments(ctx); err != nil {
				return nil, err
			}
			info.GatewayURL = m.url
			if err := demo.WriteJSON(filepath.Join(m.Config.DataDir, demoFile), info); err != nil {
				return nil, err
			}
		}
		return &info, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}

	if err := m.demoDepartments(ctx); err != nil {
		return nil, err
	}
	if err := m.demoDataTypes(ctx); err != nil {
		return nil, err
	}
	if _, _, err := m.policy.LoadDefaults(ctx, "demo"); err != nil {
		return nil, fmt.Errorf("default policy: %w", err)
	}
	info.GatewayURL = m.url
	recs, residents, err := m.demoResidents(ctx)
	if err != nil {
		return nil, err
	}
	info.Residents = residents
	// Saved before they are published, so that a rerun after an interrupted
	// load publishes the same digests again (an idempotent no-op).
	if err := demo.SaveRecords(m.Config.DataDir, recs); err != nil {
		return nil, err
	}
	if err := m.publishDemoRecords(ctx, recs); err != nil {
		return nil, err
	}
	m.provider.SetRecords(recs)
	for _, d := range demo.Departments {
		token, _, err := m.apiKeys.IssueAPIKey(ctx, d.ID, "demo")
		if err != nil {
			return nil, fmt.Errorf("API key for %s: %w", d.ID, err)
		}
		info.Departments = append(info.Departments, DemoDepartment{ID: d.ID, Name: d.NameEN, APIKey: token})
	}
	for _, u := range []struct{ name, role string }{
		{"admin", accounts.RoleAdmin}, {"officer", accounts.RoleMappingOfficer}, {"auditor", accounts.RoleAuditor},
	} {
		pw := demoPassword()
		_, err := m.admins.CreateAdmin(ctx, u.name, pw, u.role)
		if routing.IsKind(err, routing.KindConflict) {
			// Left by an interrupted load: give it the password demo.json
			// will name.
			err = m.admins.SetPassword(ctx, u.name, pw)
		}
		if err != nil {
			return nil, fmt.Errorf("console user %s: %w", u.name, err)
		}
		du := DemoUser{Username: u.name, Password: pw, Role: u.role}
		if u.role == accounts.RoleAdmin {
			info.Admin = du
		} else {
			info.Staff = append(info.Staff, du)
		}
	}
	if err := demo.WriteJSON(filepath.Join(m.Config.DataDir, demoFile), info); err != nil {
		return nil, err
	}
	return &info, nil
}

// demoKey returns a department's route-signing key, creating it once.
func (m *Main) demoKey(dept string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(m.demoDir(), "keys", dept+".pem")
	raw, err := safefile.ReadSecret(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil {
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
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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

// demoKID names a department's demo signing key after the key itself, so
// that a demo loaded from another data dir onto the same ledger adds its
// key instead of clashing with a key id already registered.
func demoKID(dept string, key *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	sum := sha256.Sum256(der)
	return dept + "-" + hex.EncodeToString(sum[:4])
}

// demoDepartments registers the departments, or brings a registered one
// up to this gateway: its endpoint at this gateway's address and this data
// dir's signing key among its keys (a ledger that outlives the data dir,
// as a real network does).
func (m *Main) demoDepartments(ctx context.Context) error {
	for _, d := range demo.Departments {
		key, err := m.demoKey(d.ID)
		if err != nil {
			return err
		}
		pub, err := model.MarshalPublicKey(&key.PublicKey)
		if err != nil {
			return err
		}
		ours := model.SigningKey{KID: demoKID(d.ID, key), PublicKeyPEM: pub, Status: model.KeyActive}
		dept := model.Department{
			ID: d.ID, Name: d.Name, NameEN: d.NameEN, MSPID: d.MSPID,
			Endpoints:   []string{m.url + demo.ProviderPath + d.ID},
			SigningKeys: []model.SigningKey{ours},
			Status:      model.DepartmentActive,
		}
		existing, err := m.agent.GetDepartment(ctx, d.ID)
		switch {
		case routing.IsKind(err, routing.KindNotFound):
			if _, err := m.adminLedger().RegisterDepartment(ctx, dept); err != nil {
				return fmt.Errorf("register %s: %w", d.ID, err)
			}
		case err != nil:
			return err
		default:
			_, hasKey := existing.Key(ours.KID)
			if hasKey && slices.Equal(existing.Endpoints, dept.Endpoints) {
				break
			}
			existing.Endpoints = dept.Endpoints
			if !hasKey {
				existing.SigningKeys = append(existing.SigningKeys, ours)
			}
			if _, err := m.adminLedger().UpdateDepartment(ctx, *existing); err != nil {
				return fmt.Errorf("update %s: %w", d.ID, err)
			}
		}
		_ = m.dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{{Kind: model.KindDepartment, ID: d.ID}}})
	}
	return nil
}

func (m *Main) demoDataTypes(ctx context.Context) error {
	for _, dt := range demo.DataTypes {
		_, err := m.agent.GetDataType(ctx, dt.Code)
		if err == nil {
			continue
		}
		if !routing.IsKind(err, routing.KindNotFound) {
			return err
		}
		if _, err := m.adminLedger().RegisterDataType(ctx, model.DataType{
			Code: dt.Code, Name: dt.Name, NameEN: dt.NameEN, Schema: dt.Schema, Owners: []string{dt.Owner},
		}); err != nil {
			return fmt.Errorf("data type %s: %w", dt.Code, err)
		}
	}
	return nil
}

// demoResidents creates the residents' eIDs at the "KYC counter", activates
// their portal accounts and prepares their records with fresh salts. The
// records of an interrupted load are kept: their digests may already be on
// the ledger.
func (m *Main) demoResidents(ctx context.Context) ([]demo.StoredRecord, []DemoResident, error) {
	owner := map[string]string{}
	for _, dt := range demo.DataTypes {
		owner[dt.Code] = dt.Owner
	}
	saved := map[string]demo.StoredRecord{}
	if prev, err := demo.LoadRecords(m.Config.DataDir); err == nil {
		for _, r := range prev {
			saved[r.EID+"|"+r.DataType] = r
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	var recs []demo.StoredRecord
	var out []DemoResident
	for _, r := range demo.Residents {
		docs := r.Documents
		var eid, code string
		created, err := m.mapping.Create(ctx, docs, "demo")
		switch {
		case err == nil:
			eid, code = created.EID, created.ActivationCode
		case routing.CodeOf(err) == "document_already_mapped":
			// A load interrupted after this resident was created.
			if eid, err = m.mapping.Find(ctx, docs[0]); err != nil {
				return nil, nil, err
			}
			if code, err = m.mapping.NewActivationCode(ctx, eid, "demo"); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("resident %d: %w", len(out)+1, err)
		}
		pw := demoPassword()
		if err := m.residents.Activate(ctx, eid, code, pw); err != nil {
			return nil, nil, fmt.Errorf("activate resident %d: %w", len(out)+1, err)
		}
		first := r.Documents[0]
		out = append(out, DemoResident{DocType: string(first.Type), DocNumber: first.Number, Country: first.Country, EID: eid, Password: pw})
		for _, rec := range r.Records {
			if prev, ok := saved[eid+"|"+rec.DataType]; ok {
				recs = append(recs, prev)
				continue
			}
			salt := digest.NewSalt()
			body := demo.RecordJSON(rec)
			dg, err := digest.Compute(body, salt)
			if err != nil {
				return nil, nil, err
			}
			recs = append(recs, demo.StoredRecord{
				EID: eid, DataType: rec.DataType, Provider: owner[rec.DataType], Version: 1,
				Salt: digest.EncodeSalt(salt), Digest: dg, Record: body,
			})
		}
	}
	return recs, out, nil
}

// publishDemoRecords signs each record's route statement with its
// department's key and publishes them, one batch per department.
func (m *Main) publishDemoRecords(ctx context.Context, recs []demo.StoredRecord) error {
	batches := map[string][]model.SignedRoute{}
	for _, r := range recs {
		key, err := m.demoKey(r.Provider)
		if err != nil {
			return err
		}
		signed, err := model.SignRoute(key, demoKID(r.Provider, key), model.RouteStatement{
			EID: r.EID, DataType: r.DataType, Provider: r.Provider, Version: r.Version, Digest: r.Digest, Schema: r.DataType + "/1",
		})
		if err != nil {
			return err
		}
		batches[r.Provider] = append(batches[r.Provider], signed)
	}
	for _, d := range demo.Departments {
		if len(batches[d.ID]) == 0 {
			continue
		}
		if _, err := m.agent.PublishRoutes(ctx, batches[d.ID]); err != nil {
			return fmt.Errorf("publish %s routes: %w", d.ID, err)
		}
	}
	return nil
}

// demoPassword is a random password that passes the account policy.
func demoPassword() string {
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
