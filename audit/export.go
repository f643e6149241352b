package audit

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// CSVHeader are the columns of a CSV export of audit records.
var CSVHeader = []string{"seq", "id", "at", "completed_at", "official", "official_ref", "act", "target", "eid",
	"reason", "status", "error", "proposal_id", "before", "after", "leaf_hash", "batch_id", "anchor_tx_id"}

// CSVRow is a record as a CSV row under CSVHeader. Free text is kept from
// being read as a spreadsheet formula.
func CSVRow(r *Record) []string {
	completed := ""
	if !r.CompletedAt.IsZero() {
		completed = r.CompletedAt.UTC().Format(time.RFC3339Nano)
	}
	return []string{strconv.FormatUint(r.Seq, 10), r.ID, r.At.UTC().Format(time.RFC3339Nano), completed,
		cellSafe(r.Official), r.OfficialRef, r.Act, cellSafe(r.Target), r.EID, cellSafe(r.Reason), r.Status, cellSafe(r.Error),
		r.ProposalID, cellSafe(string(r.Before)), cellSafe(string(r.After)), r.LeafHash, r.BatchID, r.AnchorTxID}
}

func cellSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// Exporter writes pages of records in one format: "csv" (a header, then
// rows) or "jsonl" (one JSON object per line).
type Exporter struct {
	format string
	csv    *csv.Writer
	json   *json.Encoder
	header bool
}

// NewExporter returns an exporter to w; format is csv or jsonl.
func NewExporter(w io.Writer, format string) *Exporter {
	if format == "csv" {
		return &Exporter{format: format, csv: csv.NewWriter(w), header: true}
	}
	return &Exporter{format: format, json: json.NewEncoder(w)}
}

// Write writes one page.
func (e *Exporter) Write(recs []Record) error {
	if e.json != nil {
		for i := range recs {
			if err := e.json.Encode(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if e.header {
		e.header = false
		if err := e.csv.Write(CSVHeader); err != nil {
			return err
		}
	}
	for i := range recs {
		if err := e.csv.Write(CSVRow(&recs[i])); err != nil {
			return err
		}
	}
	e.csv.Flush()
	return e.csv.Error()
}
