package mapping

import (
	"fmt"
	"time"
)

// Fold is the normalisation of document numbers, for the external tests to
// register the exact form that must never be logged.
var Fold = fold

// residentNumber returns the i-th of a family of valid, distinct
// cn-resident numbers, for the package's own tests (mappingtest has the
// same family for the others).
func residentNumber(i int) string {
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/900)
	body := fmt.Sprintf("110102%s%03d", birth.Format("20060102"), 100+i%900)
	return body + string(gb11643Check(body))
}
