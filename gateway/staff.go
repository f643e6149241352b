package gateway

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Staff management: list, disable, re-enable, reset (a new activation
// code) and change role; the services refuse to disable or demote the last
// administrator (409 last_admin).

func (a *api) disableAdmin(c *gin.Context) {
	err := a.deps.Admins.Disable(ctx(c), c.Param("name"))
	a.answer(c, http.StatusOK, gin.H{"username": c.Param("name"), "disabled": true}, err)
}

func (a *api) enableAdmin(c *gin.Context) {
	err := a.deps.Admins.Enable(ctx(c), c.Param("name"))
	a.answer(c, http.StatusOK, gin.H{"username": c.Param("name"), "disabled": false}, err)
}

type roleRequest struct {
	Role string `json:"role"`
}

func (a *api) setAdminRole(c *gin.Context) {
	var req roleRequest
	if !a.bind(c, &req) {
		return
	}
	err := a.deps.Admins.SetRole(ctx(c), c.Param("name"), req.Role)
	a.answer(c, http.StatusOK, gin.H{"username": c.Param("name"), "role": req.Role}, err)
}

// resetAdmin shows the new activation code once; only its hash is kept.
func (a *api) resetAdmin(c *gin.Context) {
	code, exp, err := a.deps.Admins.Reset(ctx(c), c.Param("name"))
	a.answer(c, http.StatusOK, gin.H{"username": c.Param("name"), "activation_code": code,
		"expires_at": exp.UTC().Format(time.RFC3339)}, err)
}

type adminActivateRequest struct {
	Username string `json:"username"`
	Code     string `json:"code"`
	Password string `json:"password"`
}

// adminActivate lets a reset staff member choose a new password with their
// activation code, and signs them in.
func (a *api) adminActivate(c *gin.Context) {
	var req adminActivateRequest
	if !a.bind(c, &req) {
		return
	}
	token, sess, err := a.deps.SignIn.ActivateAdmin(ctx(c), req.Username, req.Code, req.Password)
	a.renderSession(c, token, sess, err)
}
