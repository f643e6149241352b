package bench

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/mapping"
)

// The generated rows are what the importer accepts: valid and distinct.
func TestResidentCSVRowsAreValidAndDistinct(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.csv")
	const n = 3000
	if err := WriteResidentCSV(path, n); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	seen := map[string]bool{}
	rows := 0
	for sc.Scan() {
		if rows == 0 {
			if sc.Text() != "type,number,ref" {
				t.Fatalf("header %q", sc.Text())
			}
			rows++
			continue
		}
		cols := strings.Split(sc.Text(), ",")
		if _, err := mapping.Parse(mapping.Input{Type: mapping.DocType(cols[0]), Number: cols[1]}, time.Now()); err != nil {
			t.Fatalf("row %d is not valid: %v", rows, err)
		}
		if seen[cols[1]] {
			t.Fatalf("row %d repeats a number", rows)
		}
		seen[cols[1]] = true
		rows++
	}
	if rows-1 != n {
		t.Fatalf("%d rows, want %d", rows-1, n)
	}
	// The last of a million is still a valid birth date in the past.
	if _, err := mapping.Parse(mapping.Input{Type: mapping.CNResident, Number: ResidentNumber(999_999)}, time.Now()); err != nil {
		t.Fatalf("row 999999: %v", err)
	}
}
