package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// Guardians acting for wards: officers register relations (admin API);
// a guardian signed in to the portal reads and decides the ward's
// requests (resident API, /v1/me/wards/{ward}/…).

type relationRequest struct {
	Ward              string         `json:"ward"`
	Guardian          string         `json:"guardian"`
	Kind              string         `json:"kind"`
	EvidenceKind      string         `json:"evidence_kind"`
	EvidenceReference string         `json:"evidence_reference"`
	WardDocument      *mapping.Input `json:"ward_document,omitempty"`
	WardBirthDate     string         `json:"ward_birth_date,omitempty"`
	ValidUntil        string         `json:"valid_until,omitempty"`
}

func (r relationRequest) input() mapping.RelationInput {
	return mapping.RelationInput{Ward: r.Ward, Guardian: r.Guardian, Kind: r.Kind, EvidenceKind: r.EvidenceKind,
		EvidenceReference: r.EvidenceReference, WardDocument: r.WardDocument, WardBirthDate: r.WardBirthDate, ValidUntil: r.ValidUntil}
}

func (a *api) registerRelation(c *gin.Context) {
	var req relationRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Relations.Register(ctx(c), req.input(), adminName(c))
	a.answer(c, http.StatusCreated, out, err)
}

type endRelationRequest struct {
	Reason string `json:"reason"`
}

func (a *api) endRelation(c *gin.Context) {
	var req endRelationRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Relations.End(ctx(c), c.Param("id"), req.Reason, adminName(c))
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) getRelation(c *gin.Context) {
	out, err := a.deps.Guardianship.Get(ctx(c), c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

// listRelations lists the relations of one ward or of one guardian.
func (a *api) listRelations(c *gin.Context) {
	ward, guardian := c.Query("ward"), c.Query("guardian")
	var out []routing.RelationView
	var err error
	switch {
	case ward != "" && guardian == "":
		out, err = a.deps.Guardianship.Guardians(ctx(c), ward)
	case guardian != "" && ward == "":
		out, err = a.deps.Guardianship.Wards(ctx(c), guardian)
	default:
		err = routing.Invalid("gateway", "ward", "name either a ward or a guardian")
	}
	answerList(a.Server, c, "representations", out, err)
}

func (a *api) myWards(c *gin.Context) {
	out, err := a.deps.Guardianship.Wards(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "representations", out, err)
}

func (a *api) myGuardians(c *gin.Context) {
	out, err := a.deps.Guardianship.Guardians(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "representations", out, err)
}

func (a *api) wardConsents(c *gin.Context) {
	out, err := a.deps.Guardianship.WardConsents(ctx(c), currentSession(c).Subject, c.Param("ward"))
	answerList(a.Server, c, "consents", out, err)
}

// wardAccess is the ward's access log as the ward sees it, for their
// guardian while the relation is valid.
func (a *api) wardAccess(c *gin.Context) {
	ward := c.Param("ward")
	if _, err := a.deps.Guardianship.ActingFor(ctx(c), currentSession(c).Subject, ward); err != nil {
		a.fail(c, err)
		return
	}
	a.accessLogOf(c, ward)
}

func (a *api) wardDeny(c *gin.Context) {
	out, err := a.deps.Guardianship.Deny(ctx(c), currentSession(c).Subject, c.Param("ward"), c.Param("id"))
	a.answer(c, http.StatusOK, assuredConsent(out), err)
}

// wardSignOptions answers the statement a guardian is about to sign for
// the ward and the WebAuthn options to sign it with their own passkey.
func (a *api) wardSignOptions(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		out, err := a.deps.Approvals.BeginConsentForWard(ctx(c), currentSession(c).Subject, c.Param("ward"), c.Param("id"), action)
		a.answer(c, http.StatusOK, out, err)
	}
}

// wardDecide grants or revokes the ward's consent with the guardian's
// passkey signature; a guardian's decision is always signed.
func (a *api) wardDecide(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		req, ok := a.bindCredential(c)
		if !ok {
			return
		}
		out, err := a.deps.Approvals.FinishConsentForWard(ctx(c), currentSession(c).Subject, c.Param("ward"), c.Param("id"), action, req.Credential)
		a.answer(c, http.StatusOK, assuredConsent(out), err)
	}
}

// assuredConsent spells out a decided consent's assurances (nil stays nil).
func assuredConsent(c *model.Consent) *model.Consent {
	if c == nil {
		return nil
	}
	assured := c.Assured()
	return &assured
}
