package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
)

// routes registers every API route, so the whole surface is visible here.
func (s *Server) routes() {
	r := s.engine
	a, p := &api{s}, &pages{s}

	// Public.
	r.GET("/healthz", a.healthz)
	r.GET("/readyz", a.readyz)
	r.GET("/metrics", a.metricsHandler())
	r.GET("/openapi.yaml", a.openapi)
	r.GET("/.well-known/jwks.json", a.jwks)
	r.GET("/1.0/identifiers/:did", a.resolveDID)

	// Department API: mTLS client certificate or API key, plus the acting official.
	v1 := r.Group("/v1", s.department)
	v1.POST("/routes", a.publishRoutes)
	v1.POST("/routes/revoke", a.revokeRoute)
	v1.POST("/routes/resolve", a.resolve)
	v1.POST("/consents", a.requestConsent)
	v1.GET("/consents", a.listDepartmentConsents)
	v1.GET("/consents/:id", a.getDepartmentConsent)
	v1.POST("/accounts/link", a.linkAccount)
	v1.POST("/accounts/unlink", a.unlinkAccount)
	v1.POST("/accounts/lookup", a.lookupAccount)
	v1.POST("/verify", a.verify)
	v1.GET("/access", a.listDepartmentAccess)
	v1.POST("/policy/explain", a.explainPolicy)
	v1.POST("/tickets/introspect", a.introspect)

	// Resident API (the portal's back end).
	r.POST("/v1/me/activate", a.activate)
	r.POST("/v1/me/login", a.residentLogin)
	me := r.Group("/v1/me", s.session(accounts.SessionResident, ""))
	me.POST("/logout", a.logout)
	me.GET("", a.me)
	me.PUT("/lang", a.setLang)
	me.GET("/routes", a.myRoutes)
	me.GET("/consents", a.myConsents)
	me.POST("/consents/:id/grant", a.grantConsent)
	me.POST("/consents/:id/deny", a.denyConsent)
	me.POST("/consents/:id/revoke", a.revokeConsent)
	me.GET("/access", a.myAccess)
	me.GET("/access/:id/proof", a.myAccessProof)

	// Admin API.
	r.POST("/v1/admin/login", a.adminLogin)
	// Each admin route needs a permission of the signed-in role; the
	// console's pages below check the same permissions (accounts.RoleCan).
	staff := s.session(accounts.SessionAdmin, accounts.PermRegistryRead)
	registry := s.session(accounts.SessionAdmin, accounts.PermRegistryWrite)
	residents := s.session(accounts.SessionAdmin, accounts.PermResidents)
	policyRead := s.session(accounts.SessionAdmin, accounts.PermPoliciesRead)
	policyWrite := s.session(accounts.SessionAdmin, accounts.PermPoliciesWrite)
	audit := s.session(accounts.SessionAdmin, accounts.PermAudit)
	users := s.session(accounts.SessionAdmin, accounts.PermUsers)
	adm := r.Group("/v1/admin")
	adm.POST("/logout", staff, a.logout)
	adm.GET("/me", staff, a.adminMe)

	adm.GET("/departments", staff, a.listDepartments)
	adm.POST("/departments", registry, a.registerDepartment)
	adm.PUT("/departments/:id", registry, a.updateDepartment)
	adm.POST("/departments/:id/status", registry, a.setDepartmentStatus)
	adm.GET("/departments/:id/apikeys", registry, a.listAPIKeys)
	adm.POST("/departments/:id/apikeys", registry, a.issueAPIKey)
	adm.POST("/apikeys/:id/revoke", registry, a.revokeAPIKey)
	adm.GET("/datatypes", staff, a.listDataTypes)
	adm.POST("/datatypes", registry, a.registerDataType)
	adm.PUT("/datatypes/:code", registry, a.updateDataType)

	adm.POST("/eids", residents, a.createEID)
	adm.POST("/eids/search", residents, a.searchEID)
	adm.GET("/eids/:eid", residents, a.getEID)
	adm.POST("/eids/:eid/documents", residents, a.addDocument)
	adm.DELETE("/eids/:eid/documents/:ref", residents, a.removeDocument)
	adm.POST("/eids/:eid/merge", residents, a.mergeEID)
	adm.POST("/eids/:eid/deactivate", residents, a.deactivateEID)
	adm.POST("/eids/:eid/activation-code", residents, a.newActivationCode)
	adm.POST("/imports", residents, a.startImport)
	adm.GET("/imports", residents, a.listImports)
	adm.GET("/imports/:id", residents, a.getImport)
	adm.GET("/imports/:id/rejects", residents, a.importRejects)

	adm.GET("/policies", policyRead, a.listPolicy)
	adm.POST("/policies/rules", policyWrite, a.addPolicyRule)
	adm.POST("/policies/rules/delete", policyWrite, a.removePolicyRule)
	adm.GET("/policies/history", policyRead, a.policyHistory)
	adm.POST("/policies/explain", policyRead, a.adminExplain)

	adm.GET("/access", audit, a.auditAccess)
	adm.GET("/anchoring", audit, a.anchoringStatus)
	adm.GET("/users", users, a.listAdmins)
	adm.POST("/users", users, a.createAdmin)

	// Portal and console pages (server-rendered; forms post here and
	// redirect), with the same permissions as the API above.
	r.GET("/", rootRedirect)
	st := gin.WrapH(http.StripPrefix("/static", s.site.Static()))
	r.GET("/static/*file", p.pageHeaders, st)
	r.HEAD("/static/*file", p.pageHeaders, st)

	resident := p.pageSession(pageAuth{kind: accounts.SessionResident})
	portal := r.Group("/portal", p.pageHeaders)
	portal.POST("/lang", p.switchLang)
	portal.GET("/login", p.portalLoginPage)
	portal.POST("/login", p.portalLogin)
	portal.GET("/activate", p.portalActivatePage)
	portal.POST("/activate", p.portalActivate)
	portal.POST("/logout", resident, p.pageLogout)
	portal.GET("", resident, p.portalHome)
	portal.GET("/data", resident, p.portalData)
	portal.GET("/inbox", resident, p.portalInbox)
	portal.GET("/consents", resident, p.portalConsents)
	portal.POST("/consents/:id/grant", resident, p.portalGrant)
	portal.POST("/consents/:id/deny", resident, p.portalDeny)
	portal.POST("/consents/:id/revoke", resident, p.portalRevoke)
	portal.GET("/access", resident, p.portalAccess)

	staffPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermRegistryRead})
	registryPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermRegistryWrite})
	residentsPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermResidents})
	uploadPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermResidents, streamed: true})
	policyReadPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermPoliciesRead})
	policyWritePage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermPoliciesWrite})
	auditPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermAudit})
	usersPage := p.pageSession(pageAuth{kind: accounts.SessionAdmin, permission: accounts.PermUsers})
	console := r.Group("/admin", p.pageHeaders)
	console.POST("/lang", p.switchLang)
	console.GET("/login", p.adminLoginPage)
	console.POST("/login", p.adminLoginForm)
	console.POST("/logout", staffPage, p.pageLogout)
	console.GET("", staffPage, p.adminHome)

	console.GET("/departments", staffPage, p.adminDepartments)
	console.POST("/departments", registryPage, p.adminRegisterDepartment)
	console.GET("/departments/:id", staffPage, p.adminDepartment)
	console.POST("/departments/:id", registryPage, p.adminUpdateDepartment)
	console.POST("/departments/:id/keys", registryPage, p.adminAddKey)
	console.POST("/departments/:id/keys/retire", registryPage, p.adminRetireKey)
	console.POST("/departments/:id/status", registryPage, p.adminDepartmentStatus)
	console.POST("/departments/:id/apikeys", registryPage, p.adminIssueAPIKey)
	console.POST("/apikeys/:id/revoke", registryPage, p.adminRevokeAPIKey)
	console.GET("/datatypes", staffPage, p.adminDataTypes)
	console.POST("/datatypes", registryPage, p.adminRegisterDataType)
	console.GET("/datatypes/:code", staffPage, p.adminDataType)
	console.POST("/datatypes/:code", registryPage, p.adminUpdateDataType)

	console.GET("/residents", residentsPage, p.adminResidents)
	console.POST("/residents", residentsPage, p.adminCreateResident)
	console.POST("/residents/search", residentsPage, p.adminSearchResident)
	console.GET("/residents/:eid", residentsPage, p.adminResident)
	console.POST("/residents/:eid/documents", residentsPage, p.adminAddDocument)
	console.POST("/residents/:eid/documents/remove", residentsPage, p.adminRemoveDocument)
	console.POST("/residents/:eid/merge", residentsPage, p.adminMerge)
	console.POST("/residents/:eid/deactivate", residentsPage, p.adminDeactivate)
	console.POST("/residents/:eid/activation-code", residentsPage, p.adminActivationCode)
	console.GET("/imports", residentsPage, p.adminImports)
	console.POST("/imports", uploadPage, p.adminStartImport)
	console.GET("/imports/:id", residentsPage, p.adminImport)

	console.GET("/policies", policyReadPage, p.adminPolicies)
	console.POST("/policies/explain", policyReadPage, p.adminExplainForm)
	console.POST("/policies/rules", policyWritePage, p.adminAddRule)
	console.POST("/policies/rules/delete", policyWritePage, p.adminRemoveRule)
	console.GET("/audit", auditPage, p.adminAudit)
	console.GET("/users", usersPage, p.adminUsers)
	console.POST("/users", usersPage, p.adminCreateUser)
}
