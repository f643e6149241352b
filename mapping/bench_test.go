package mapping

import (
	"testing"
)

// benchRows are the valid documents of testdata/documents.json, the mix an
// import sees: every type, with and without separators and full-width forms.
func benchRows(b *testing.B) []Input {
	var rows []Input
	for _, tc := range loadDocCases(b) {
		if tc.Reason == "" {
			rows = append(rows, Input{Type: tc.Type, Number: tc.Number, Country: tc.Country})
		}
	}
	return rows
}

func reportRows(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkParseValidateBlind is one import row: parse, validate, normalise
// and blind under the current key, on one goroutine (one core).
func BenchmarkParseValidateBlind(b *testing.B) {
	rows := benchRows(b)
	k := testKeyring(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, err := Parse(rows[i%len(rows)], testNow)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Blind(doc); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b)
}

// BenchmarkParseValidateBlindAll is a lookup row during a rotation: the index
// under both key versions.
func BenchmarkParseValidateBlindAll(b *testing.B) {
	rows := benchRows(b)
	k := testKeyring(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, err := Parse(rows[i%len(rows)], testNow)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.BlindAll(doc); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b)
}

// BenchmarkParseValidateBlindParallel shares one Keyring across GOMAXPROCS
// goroutines, as the gateway and the importer do.
func BenchmarkParseValidateBlindParallel(b *testing.B) {
	rows := benchRows(b)
	k := testKeyring(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			doc, err := Parse(rows[i%len(rows)], testNow)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := k.Blind(doc); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	reportRows(b)
}

// BenchmarkParse is parse and validate alone, per type.
func BenchmarkParse(b *testing.B) {
	for _, typ := range Types() {
		var in Input
		for _, row := range benchRows(b) {
			if row.Type == typ {
				in = row
				break
			}
		}
		b.Run(string(typ), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Parse(in, testNow); err != nil {
					b.Fatal(err)
				}
			}
			reportRows(b)
		})
	}
}

func BenchmarkBlind(b *testing.B) {
	k := testKeyring(b)
	doc, _ := Parse(Input{Type: CNResident, Number: "11010519491231002X"}, testNow)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := k.Blind(doc); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b)
}

func BenchmarkAccountHash(b *testing.B) {
	k := testKeyring(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = k.AccountHash("edu-bureau", "s-2024-0001")
	}
	reportRows(b)
}
