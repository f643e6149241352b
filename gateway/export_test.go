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

// ErrorCodeEntry is one entry of the error-code table.
type ErrorCodeEntry = errorCode

// ErrorCodes and StartupCodes are the error-code table.
func ErrorCodes() []ErrorCodeEntry   { return errorCodes }
func StartupCodes() []ErrorCodeEntry { return startupCodes }
