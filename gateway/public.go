package gateway

import (
	"net/http"
	"strconv"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func itoa(v int) string { return strconv.Itoa(v) }

func (a *api) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is red when any dependency check fails: the database, the
// ledger, the event listener, or anchoring lagging past its bound.
func (a *api) readyz(c *gin.Context) {
	var checks []Check
	if a.deps.Ready != nil {
		checks = a.deps.Ready(ctx(c))
	}
	st := a.deps.Anchoring.Status()
	a.metrics.anchoring(st)
	chk := Check{Name: "anchoring", OK: true, Detail: "lag " + st.Lag.Round(1e6).String()}
	if err := a.deps.Anchoring.Check(ctx(c)); err != nil {
		chk.OK, chk.Detail = false, routing.MessageOf(err)
	}
	checks = append(checks, chk)
	ready := true
	for _, ch := range checks {
		ready = ready && ch.OK
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"ready": ready, "checks": nonNil(checks)})
}

func (a *api) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(a.cfg.Registry, promhttp.HandlerOpts{})
	return func(c *gin.Context) {
		a.metrics.anchoring(a.deps.Anchoring.Status())
		h.ServeHTTP(c.Writer, c.Request)
	}
}

func (a *api) openapi(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", a.cfg.OpenAPI)
}

func (a *api) jwks(c *gin.Context) {
	b, err := a.deps.Tickets.JWKS()
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=60")
	c.Data(http.StatusOK, "application/jwk-set+json", b)
}

// didResolutionContentType is the DIF Universal Resolver's media type.
const didResolutionContentType = `application/ld+json;profile="https://w3id.org/did-resolution"`

// resolveDID answers in the DIF Universal Resolver shape: didDocument,
// didResolutionMetadata and didDocumentMetadata, with resolution errors
// (invalidDid, notFound) in the metadata.
func (a *api) resolveDID(c *gin.Context) {
	did := c.Param("did")
	fail := func(status int, code, message string) {
		c.Header("Content-Type", didResolutionContentType)
		c.JSON(status, gin.H{
			"@context":              "https://w3id.org/did-resolution/v1",
			"didDocument":           nil,
			"didResolutionMetadata": gin.H{"error": code, "errorMessage": message, "contentType": didResolutionContentType},
			"didDocumentMetadata":   gin.H{},
		})
	}
	if !model.ValidDID(did) {
		fail(http.StatusBadRequest, "invalidDid", "not a did:eidgate identifier")
		return
	}
	res, err := a.deps.DIDs.DID(ctx(c), did) // from the cache
	if err != nil {
		if routing.IsKind(err, routing.KindNotFound) {
			fail(http.StatusNotFound, "notFound", "no such DID")
			return
		}
		a.fail(c, err)
		return
	}
	status := http.StatusOK
	if res.DIDDocumentMetadata.Deactivated {
		// A deactivated DID still resolves, with the metadata saying so
		// (DID Resolution §7.1), as the Universal Resolver answers 410.
		status = http.StatusGone
	}
	c.Header("Content-Type", didResolutionContentType)
	c.JSON(status, gin.H{
		"@context":              "https://w3id.org/did-resolution/v1",
		"didDocument":           res.DIDDocument,
		"didResolutionMetadata": res.DIDResolutionMetadata,
		"didDocumentMetadata":   res.DIDDocumentMetadata,
	})
}
