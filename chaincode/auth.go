package chaincode

import (
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"

	"github.com/eidgate/eidgate/chaincode/model"
)

// caller is the authenticated submitter of a call.
type caller struct {
	MSPID string
	Role  string // model.RoleAdmin, RoleAgent or RoleDepartment
	Dept  string // the department a department identity acts as
	Name  string // "MSPID/common name", recorded as decided_by, revoked_by, submitter
}

func (c *caller) is(roles ...string) bool {
	for _, r := range roles {
		if c.Role == r {
			return true
		}
	}
	return false
}

// isDept reports whether the caller is department dept acting as itself.
func (c *caller) isDept(dept string) bool { return c.Role == model.RoleDepartment && c.Dept == dept }

// caller authenticates the submitter once per call. The role comes from the
// eidgate.role certificate attribute. Admin and agent identities must come
// from the platform MSP; a department identity must name its department in
// eidgate.dept, come from that department's registered MSP, and the
// department must be active.
func (t *txn) caller() (*caller, error) {
	if t.who != nil || t.whoErr != nil {
		return t.who, t.whoErr
	}
	t.who, t.whoErr = t.authenticate()
	return t.who, t.whoErr
}

func (t *txn) authenticate() (*caller, error) {
	// The contract API has parsed the caller's certificate for this call
	// already; parsing it a second time was a tenth of a transaction.
	ci := t.client
	if ci == nil {
		var err error
		if ci, err = cid.New(t.stub); err != nil {
			return nil, model.Forbidden("the caller's identity cannot be read")
		}
	}
	mspID, _ := ci.GetMSPID()
	cert, _ := ci.GetX509Certificate()
	if cert == nil {
		return nil, model.Forbidden("the caller must use an X.509 identity")
	}
	role, found, err := ci.GetAttributeValue(model.AttrRole)
	if err != nil || !found || role == "" {
		return nil, model.Forbidden("the caller's certificate has no %s attribute", model.AttrRole)
	}
	c := &caller{MSPID: mspID, Role: role, Name: mspID + "/" + cert.Subject.CommonName}
	switch role {
	case model.RoleAdmin, model.RoleAgent:
		if mspID != t.platformMSP {
			return nil, model.Forbidden("role %s is honoured only for identities of %s", role, t.platformMSP)
		}
	case model.RoleDepartment:
		dept, found, err := ci.GetAttributeValue(model.AttrDepartment)
		if err != nil || !found || !model.ValidDepartmentID(dept) {
			return nil, model.Forbidden("a department identity needs a valid %s attribute", model.AttrDepartment)
		}
		d, err := t.department(dept)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return nil, model.Forbidden("department %s is not registered", dept)
		}
		if d.MSPID != mspID {
			return nil, model.Forbidden("department %s acts only through MSP %s", dept, d.MSPID)
		}
		if !d.Active() {
			return nil, model.Forbidden("department %s is suspended", dept)
		}
		c.Dept = dept
	default:
		return nil, model.Forbidden("unknown role %q", role)
	}
	return c, nil
}

// requireRole admits callers holding one of roles.
func (t *txn) requireRole(roles ...string) (*caller, error) {
	c, err := t.caller()
	if err != nil {
		return nil, err
	}
	if !c.is(roles...) {
		return nil, model.Forbidden("%s requires the %s role", t.fn, strings.Join(roles, " or "))
	}
	return c, nil
}

// requireDeptOr admits department dept acting as itself and callers holding
// one of roles.
func (t *txn) requireDeptOr(dept string, roles ...string) (*caller, error) {
	c, err := t.caller()
	if err != nil {
		return nil, err
	}
	if c.isDept(dept) || c.is(roles...) {
		return c, nil
	}
	if c.Role == model.RoleDepartment {
		return nil, model.Forbidden("department %s may not call %s for department %s", c.Dept, t.fn, dept)
	}
	return nil, model.Forbidden("%s requires department %s itself or the %s role", t.fn, dept, strings.Join(roles, " or "))
}
