package gateway

import "github.com/gin-gonic/gin"

// routes registers every API route, so the whole surface is visible here.
func (s *Server) routes() {
	r := s.engine

	// Public.
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler())
	r.GET("/openapi.yaml", s.openapi)
	r.GET("/.well-known/jwks.json", s.jwks)
	r.GET("/1.0/identifiers/:did", s.resolveDID)

	// Department API: mTLS client certificate or API key, plus the acting official.
	v1 := r.Group("/v1", s.department)
	v1.POST("/routes", s.publishRoutes)
	v1.POST("/routes/revoke", s.revokeRoute)
	v1.POST("/routes/resolve", s.resolve)
	v1.POST("/consents", s.requestConsent)
	v1.GET("/consents", s.listDepartmentConsents)
	v1.GET("/consents/:id", s.getDepartmentConsent)
	v1.POST("/accounts/link", s.linkAccount)
	v1.POST("/accounts/unlink", s.unlinkAccount)
	v1.POST("/accounts/lookup", s.lookupAccount)
	v1.POST("/verify", s.verify)
	v1.GET("/access", s.listDepartmentAccess)
	v1.POST("/policy/explain", s.explainPolicy)
	v1.POST("/tickets/introspect", s.introspect)

	// Resident API (the portal's back end).
	r.POST("/v1/me/activate", s.activate)
	r.POST("/v1/me/login", s.residentLogin)
	me := r.Group("/v1/me", s.session(SessionResident))
	me.POST("/logout", s.logout)
	me.GET("", s.me)
	me.PUT("/lang", s.setLang)
	me.GET("/routes", s.myRoutes)
	me.GET("/consents", s.myConsents)
	me.POST("/consents/:id/grant", s.grantConsent)
	me.POST("/consents/:id/deny", s.denyConsent)
	me.POST("/consents/:id/revoke", s.revokeConsent)
	me.GET("/access", s.myAccess)
	me.GET("/access/:id/proof", s.myAccessProof)

	// Admin API.
	r.POST("/v1/admin/login", s.adminLogin)
	all := s.session(SessionAdmin, RoleAdmin, RoleMappingOfficer, RoleAuditor)
	admin := s.session(SessionAdmin, RoleAdmin)
	mapping := s.session(SessionAdmin, RoleAdmin, RoleMappingOfficer)
	audit := s.session(SessionAdmin, RoleAdmin, RoleAuditor)
	a := r.Group("/v1/admin")
	a.POST("/logout", all, s.logout)
	a.GET("/me", all, s.adminMe)

	a.GET("/departments", all, s.listDepartments)
	a.POST("/departments", admin, s.registerDepartment)
	a.PUT("/departments/:id", admin, s.updateDepartment)
	a.POST("/departments/:id/status", admin, s.setDepartmentStatus)
	a.GET("/departments/:id/apikeys", admin, s.listAPIKeys)
	a.POST("/departments/:id/apikeys", admin, s.issueAPIKey)
	a.POST("/apikeys/:id/revoke", admin, s.revokeAPIKey)
	a.GET("/datatypes", all, s.listDataTypes)
	a.POST("/datatypes", admin, s.registerDataType)
	a.PUT("/datatypes/:code", admin, s.updateDataType)

	a.POST("/eids", mapping, s.createEID)
	a.POST("/eids/search", mapping, s.searchEID)
	a.GET("/eids/:eid", mapping, s.getEID)
	a.POST("/eids/:eid/documents", mapping, s.addDocument)
	a.DELETE("/eids/:eid/documents/:ref", mapping, s.removeDocument)
	a.POST("/eids/:eid/merge", mapping, s.mergeEID)
	a.POST("/eids/:eid/deactivate", mapping, s.deactivateEID)
	a.POST("/eids/:eid/activation-code", mapping, s.newActivationCode)
	a.POST("/imports", mapping, s.startImport)
	a.GET("/imports", mapping, s.listImports)
	a.GET("/imports/:id", mapping, s.getImport)
	a.GET("/imports/:id/rejects", mapping, s.importRejects)

	a.GET("/policies", audit, s.listPolicy)
	a.POST("/policies/rules", admin, s.addPolicyRule)
	a.POST("/policies/rules/delete", admin, s.removePolicyRule)
	a.GET("/policies/history", audit, s.policyHistory)
	a.POST("/policies/explain", audit, s.adminExplain)

	a.GET("/access", audit, s.auditAccess)
	a.GET("/anchoring", audit, s.anchoringStatus)
	a.GET("/users", admin, s.listAdmins)
	a.POST("/users", admin, s.createAdmin)

	// Portal and console pages.
	if s.cfg.Web != nil {
		web := gin.WrapH(s.cfg.Web)
		for _, p := range []string{"/portal", "/portal/*rest", "/admin", "/admin/*rest", "/static/*rest"} {
			r.Any(p, web)
		}
		r.GET("/", web)
	}
}
