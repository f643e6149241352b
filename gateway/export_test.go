package gateway

// Unexported pieces the external tests check directly.
var (
	LocalPath  = localPath
	IsPagePath = isPagePath
)

// FormCookie is the name of the sign-in form's nonce cookie.
const FormCookie = formCookie

// ExplainResponse is the answer of the explain endpoints.
type ExplainResponse = explainResponse
