package routing

import (
	"regexp"
	"testing"
	"time"
)

// Access ids keep their documented form and come out in creation order, so
// the database appends them to its unique index.
func TestNewAccessIDFormAndOrder(t *testing.T) {
	t.Parallel()
	form := regexp.MustCompile(`^acc_[0-9a-f]{32}$`)
	seen := map[string]bool{}
	prev := NewAccessID()
	for i := range 1000 {
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
		id := NewAccessID()
		if !form.MatchString(id) {
			t.Fatalf("id %q is not acc_ and 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
		if i%100 == 0 && id <= prev {
			t.Fatalf("id %q made after %q sorts before it", id, prev)
		}
		prev = id
	}
}
