package gateway

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// Staff management in the console: each row of the administrators' page
// disables or re-enables the account, changes its role or resets it; a
// refusal (the last administrator) shows on the page.

func (p *pages) staffDone(c *gin.Context, err error, flash string) {
	if err != nil {
		p.showUsers(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"role": "role"}), nil)
		return
	}
	seeOther(c, "/admin/users", flash)
}

func (p *pages) adminUserStatus(c *gin.Context) {
	name := c.Param("name")
	switch c.PostForm("action") {
	case "disable":
		p.staffDone(c, p.deps.Admins.Disable(ctx(c), name), "user_disabled")
	case "enable":
		p.staffDone(c, p.deps.Admins.Enable(ctx(c), name), "user_enabled")
	default:
		p.staffDone(c, routing.Invalid("gateway", "action", "the action is disable or enable"), "")
	}
}

func (p *pages) adminUserRole(c *gin.Context) {
	p.staffDone(c, p.deps.Admins.SetRole(ctx(c), c.Param("name"), c.PostForm("role")), "user_role_changed")
}

// adminUserReset shows the new activation code once.
func (p *pages) adminUserReset(c *gin.Context) {
	name := c.Param("name")
	code, _, err := p.deps.Admins.Reset(ctx(c), name)
	if err != nil {
		p.staffDone(c, err, "")
		return
	}
	p.render(c, http.StatusOK, "admin_secret", &web.Page{Title: "title.admin.staff_reset", Nav: "users",
		Data: secretData{Kind: "staff_reset", Subject: name, Secret: code, Back: "/admin/users"}})
}

func (p *pages) adminActivatePage(c *gin.Context) {
	p.render(c, http.StatusOK, "admin_activate", &web.Page{Title: "title.admin.activate", Form: map[string]string{"username": c.Query("username")}})
}

// adminActivateForm signs a reset staff member in with their activation
// code and new password.
func (p *pages) adminActivateForm(c *gin.Context) {
	if !p.acceptSignInForm(c) {
		return
	}
	form := refill(c, "username", "code")
	show := func(status int, errs *web.Errors) {
		p.render(c, status, "admin_activate", &web.Page{Title: "title.admin.activate", Errors: errs, Form: form})
	}
	var errs *web.Errors
	for _, f := range []struct{ name, msg string }{{"username", "err.username_required"}, {"code", "err.code_required"}, {"password", "err.password_required"}} {
		if strings.TrimSpace(c.PostForm(f.name)) == "" {
			errs = p.fieldError(c, errs, f.name, f.msg)
		}
	}
	if errs.Any() {
		show(http.StatusBadRequest, errs)
		return
	}
	token, sess, err := p.deps.SignIn.ActivateAdmin(ctx(c), strings.TrimSpace(c.PostForm("username")), c.PostForm("code"), c.PostForm("password"))
	if err != nil {
		show(statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"username": "username", "code": "code", "password": "password"}))
		return
	}
	p.signedIn(c, token, sess, "/admin?done=activated", "")
}
