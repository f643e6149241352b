package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/routing"
)

// The domain classifies a rejection as invalid input with a message that
// shows neither the number nor its masked form.
func TestRoutingWrapClassifiesRejections(t *testing.T) {
	_, err := Parse(Input{Type: Passport, Number: "L898902C37", Country: "USA"}, testNow)
	wrapped := routing.Wrap("mapping.Find", err)
	var re *routing.Error
	if !errors.As(wrapped, &re) {
		t.Fatalf("%T", wrapped)
	}
	if re.Kind != routing.KindInvalid || !strings.HasPrefix(re.Message, "passport: ") || strings.Contains(re.Message, "L8") {
		t.Fatalf("kind %s message %q", re.Kind, re.Message)
	}
	if ReasonOf(wrapped) != ReasonChecksum {
		t.Fatalf("reason lost through routing.Wrap: %q", ReasonOf(wrapped))
	}
}
