package accounts

// Permission is what an administrator role may do, in the admin API and
// in the console alike: both check a route's permission against the one
// table in RoleCan.
type Permission string

// Permissions.
const (
	PermRegistryRead  Permission = "registry_read"  // see departments and data types
	PermRegistryWrite Permission = "registry_write" // change them, and departments' API keys
	PermResidents     Permission = "residents"      // the KYC counter: eIDs, documents, imports
	PermPoliciesRead  Permission = "policies_read"  // see the policy and its history, explain decisions
	PermPoliciesWrite Permission = "policies_write" // change the policy
	PermAudit         Permission = "audit"          // the audit trail and the anchoring state
	PermUsers         Permission = "users"          // administrator accounts
)

// Permissions lists every permission, in the order the console shows them.
func Permissions() []Permission {
	return []Permission{PermRegistryRead, PermRegistryWrite, PermResidents, PermPoliciesRead, PermPoliciesWrite, PermAudit, PermUsers}
}

// RoleCan reports whether an administrator role has a permission: admin
// does everything; mapping officers work on residents and imports;
// auditors read the audit trail, the anchoring state and the policy (and
// explain decisions); every role reads departments and data types.
func RoleCan(role string, p Permission) bool {
	switch p {
	case PermRegistryRead:
		return role == RoleAdmin || role == RoleMappingOfficer || role == RoleAuditor
	case PermResidents:
		return role == RoleAdmin || role == RoleMappingOfficer
	case PermPoliciesRead, PermAudit:
		return role == RoleAdmin || role == RoleAuditor
	case PermRegistryWrite, PermPoliciesWrite, PermUsers:
		return role == RoleAdmin
	}
	return false
}
