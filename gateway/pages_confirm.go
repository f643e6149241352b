package gateway

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/web"
)

// destructiveAct is an act in the console that cannot be taken back: the
// first post of its form shows what it will do and asks to confirm; only
// the confirmed post (confirmed=yes, with the same fields) does it. The
// step is the server's, so it holds without script.
type destructiveAct struct {
	key  string // message keys confirm.<key>.question, .effect, .yes
	args []any  // what the question names
	back string // where Cancel leads
}

// confirmed reports whether the posted form confirms act; otherwise it
// shows the confirmation page and returns false.
func (p *pages) confirmed(c *gin.Context, act destructiveAct) bool {
	if c.PostForm("confirmed") == "yes" {
		return true
	}
	lang := p.pageLang(c)
	type field struct{ Name, Value string }
	var fields []field
	for name, values := range c.Request.PostForm {
		if name == "csrf" || name == "confirmed" || len(values) == 0 {
			continue
		}
		fields = append(fields, field{name, values[0]})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	p.render(c, http.StatusOK, "admin_confirm", &web.Page{Title: "title.admin.confirm", Data: gin.H{
		"Question": p.site.Message(lang, "confirm."+act.key+".question", act.args...),
		"Effect":   p.site.Message(lang, "confirm."+act.key+".effect"),
		"Button":   p.site.Message(lang, "confirm."+act.key+".yes"),
		"Action":   c.Request.URL.Path,
		"Fields":   fields,
		"Back":     act.back,
	}})
	return false
}

// departmentPage is a department's console page.
func departmentPage(id string) string { return "/admin/departments/" + url.PathEscape(id) }

// ruleText shows a policy line as the policy page lists it.
func ruleText(c *gin.Context) string {
	r := ruleFromForm(c)
	if r.Kind == "g" {
		return r.Subject + " → " + r.Role
	}
	return strings.Join([]string{r.Subject, r.Object, r.Action, r.Effect}, " · ")
}
