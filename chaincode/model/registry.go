package model

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
)

// Department statuses.
const (
	DepartmentActive    = "active"
	DepartmentSuspended = "suspended"
)

// Signing key statuses. A retired key no longer signs anything new; it stays
// listed so what it signed while active still verifies. A revoked key was
// compromised: everything it signed is suspect, whenever it claims to have
// been signed.
const (
	KeyActive  = "active"
	KeyRetired = "retired"
	KeyRevoked = "revoked"
)

// Data type statuses. Routes are published only for active data types.
const (
	DataTypeActive  = "active"
	DataTypeRetired = "retired"
)

// SigningKey is a department's ECDSA P-256 public key for route statements,
// credentials and yes/no answers. The lifecycle times come from the
// transactions that changed the key, never from the caller: ValidFrom when it
// was registered, RetiredAt when it stopped signing, RevokedAt when it was
// declared compromised. Keys registered before the times were kept have no
// ValidFrom; they count from the department's creation.
type SigningKey struct {
	KID           string `json:"kid"`
	PublicKeyPEM  string `json:"public_key_pem"` // SPKI ("PUBLIC KEY") PEM
	Status        string `json:"status,omitempty" metadata:",optional"`
	ValidFrom     string `json:"valid_from,omitempty" metadata:",optional"`
	RetiredAt     string `json:"retired_at,omitempty" metadata:",optional"`
	RevokedAt     string `json:"revoked_at,omitempty" metadata:",optional"`
	RevokedReason string `json:"revoked_reason,omitempty" metadata:",optional"`
}

// MaxDepartmentRoles bounds the roles of one department.
const MaxDepartmentRoles = 16

// Department is a member of the consortium that holds or requests data.
type Department struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	NameEN      string       `json:"name_en,omitempty" metadata:",optional"`
	MSPID       string       `json:"msp_id"`
	Endpoints   []string     `json:"endpoints,omitempty" metadata:",optional"`
	SigningKeys []SigningKey `json:"signing_keys,omitempty" metadata:",optional"`
	// Roles are the kinds of institution the department is (hospital,
	// employer-hr …): a resident's standing rule may name a role instead
	// of each department. They never grant access by themselves; the
	// access policy decides first.
	Roles        []string `json:"roles,omitempty" metadata:",optional"`
	Status       string   `json:"status,omitempty" metadata:",optional"`
	StatusReason string   `json:"status_reason,omitempty" metadata:",optional"`
	CreatedAt    string   `json:"created_at,omitempty" metadata:",optional"`
	UpdatedAt    string   `json:"updated_at,omitempty" metadata:",optional"`
}

// Validate checks the fields a caller supplies when registering or updating
// a department. An empty key status means active.
func (d Department) Validate() error {
	if !ValidDepartmentID(d.ID) {
		return Invalid("id must match ^[a-z0-9][a-z0-9-]{1,63}$")
	}
	if err := checkText("name", d.Name, true, MaxNameRunes); err != nil {
		return err
	}
	if err := checkText("name_en", d.NameEN, false, MaxNameRunes); err != nil {
		return err
	}
	if !ValidMSPID(d.MSPID) {
		return Invalid("msp_id is required and must be a valid MSP id")
	}
	if len(d.Endpoints) > MaxEndpoints {
		return Invalid("endpoints has more than %d entries", MaxEndpoints)
	}
	for i, e := range d.Endpoints {
		if err := checkEndpoint(fmt.Sprintf("endpoints[%d]", i), e); err != nil {
			return err
		}
		for _, prev := range d.Endpoints[:i] {
			if prev == e {
				return Invalid("endpoints[%d] is listed twice", i)
			}
		}
	}
	if len(d.SigningKeys) > MaxSigningKeys {
		return Invalid("signing_keys has more than %d entries", MaxSigningKeys)
	}
	for i, k := range d.SigningKeys {
		field := fmt.Sprintf("signing_keys[%d]", i)
		if !ValidKID(k.KID) {
			return Invalid("%s.kid must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", field)
		}
		for _, prev := range d.SigningKeys[:i] {
			if prev.KID == k.KID {
				return Invalid("%s.kid %q is listed twice", field, k.KID)
			}
		}
		if k.Status != "" && k.Status != KeyActive && k.Status != KeyRetired && k.Status != KeyRevoked {
			return Invalid("%s.status must be %q, %q or %q", field, KeyActive, KeyRetired, KeyRevoked)
		}
		if err := checkText(field+".revoked_reason", k.RevokedReason, false, MaxReasonRunes); err != nil {
			return err
		}
		if len(k.PublicKeyPEM) > MaxPublicKeyPEMLen {
			return Invalid("%s.public_key_pem is too long", field)
		}
		if _, err := ParsePublicKey(k.PublicKeyPEM); err != nil {
			return Invalid("%s.public_key_pem: %v", field, err)
		}
	}
	if len(d.Roles) > MaxDepartmentRoles {
		return Invalid("roles has more than %d entries", MaxDepartmentRoles)
	}
	if err := checkNames("roles", "role name", d.Roles); err != nil {
		return err
	}
	switch d.Status {
	case "", DepartmentActive, DepartmentSuspended:
	default:
		return Invalid("status must be %q or %q", DepartmentActive, DepartmentSuspended)
	}
	return checkText("status_reason", d.StatusReason, false, MaxReasonRunes)
}

// Active reports whether the department may act and publish.
func (d Department) Active() bool { return d.Status == DepartmentActive }

// Key returns the signing key with the given id.
func (d Department) Key(kid string) (SigningKey, bool) {
	for _, k := range d.SigningKeys {
		if k.KID == kid {
			return k, true
		}
	}
	return SigningKey{}, false
}

// ParsePublicKey parses an SPKI PEM holding an ECDSA P-256 public key.
func ParsePublicKey(pemText string) (*ecdsa.PublicKey, error) {
	block, rest := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("not a PEM block of type PUBLIC KEY")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("trailing data after the PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a valid SPKI public key")
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("not an ECDSA P-256 public key")
	}
	return ec, nil
}

// MarshalPublicKey renders an ECDSA public key as SPKI PEM.
func MarshalPublicKey(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// DataType is a kind of resident data, e.g. "edu.degree", with the JSON
// Schema its records follow and the departments that may publish it.
type DataType struct {
	Code   string   `json:"code"`
	Name   string   `json:"name"`
	NameEN string   `json:"name_en,omitempty" metadata:",optional"`
	Schema string   `json:"schema"`
	Owners []string `json:"owners,omitempty" metadata:",optional"`
	// Predicates are the yes/no questions a requester may ask about a
	// record of this type instead of receiving the record.
	Predicates []Predicate `json:"predicates,omitempty" metadata:",optional"`
	Status     string      `json:"status,omitempty" metadata:",optional"`
	CreatedAt  string      `json:"created_at,omitempty" metadata:",optional"`
	UpdatedAt  string      `json:"updated_at,omitempty" metadata:",optional"`
}

// Validate checks the fields a caller supplies for a data type.
func (dt DataType) Validate() error {
	if !ValidDataTypeCode(dt.Code) {
		return Invalid(`code must match ^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$`)
	}
	if err := checkText("name", dt.Name, true, MaxNameRunes); err != nil {
		return err
	}
	if err := checkText("name_en", dt.NameEN, false, MaxNameRunes); err != nil {
		return err
	}
	if dt.Schema == "" {
		return Invalid("schema is required")
	}
	if len(dt.Schema) > MaxSchemaBytes {
		return Invalid("schema is larger than %d bytes", MaxSchemaBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(dt.Schema), &obj); err != nil || obj == nil {
		return Invalid("schema must be a JSON object")
	}
	if len(dt.Owners) == 0 {
		return Invalid("owners must name at least one department")
	}
	if len(dt.Owners) > MaxOwners {
		return Invalid("owners has more than %d entries", MaxOwners)
	}
	for i, o := range dt.Owners {
		if !ValidDepartmentID(o) {
			return Invalid("owners[%d] is not a department id", i)
		}
		for _, prev := range dt.Owners[:i] {
			if prev == o {
				return Invalid("owners[%d] %q is listed twice", i, o)
			}
		}
	}
	switch dt.Status {
	case "", DataTypeActive, DataTypeRetired:
	default:
		return Invalid("status must be %q or %q", DataTypeActive, DataTypeRetired)
	}
	return checkPredicates(dt.Predicates)
}

// Predicate returns the catalogued predicate with the given id.
func (dt DataType) Predicate(id string) (Predicate, bool) {
	for _, p := range dt.Predicates {
		if p.ID == id {
			return p, true
		}
	}
	return Predicate{}, false
}

// OwnedBy reports whether dept may publish routes of this data type.
func (dt DataType) OwnedBy(dept string) bool {
	for _, o := range dt.Owners {
		if o == dept {
			return true
		}
	}
	return false
}

// SortedOwners returns the owners in ascending order, the form stored on the
// ledger.
func SortedOwners(owners []string) []string {
	out := append([]string(nil), owners...)
	sort.Strings(out)
	return out
}
