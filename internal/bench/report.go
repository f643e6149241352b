package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is the result of one `eidgate bench` run. Its JSON form has
// exactly the top-level keys baseline, resolve, ledger, anchoring, import,
// did, memory and size, each an object of numbers.
type Report struct {
	Baseline  Baseline  `json:"baseline"`
	Resolve   Resolve   `json:"resolve"`
	Ledger    Ledger    `json:"ledger"`
	Anchoring Anchoring `json:"anchoring"`
	Import    Import    `json:"import"`
	DID       DID       `json:"did"`
	Memory    Memory    `json:"memory"`
	Size      Size      `json:"size"`
}

// Baseline is a bare gin handler under the same load as the resolves.
type Baseline struct {
	RPS         float64 `json:"rps"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	Errors      float64 `json:"errors"`
	Connections float64 `json:"connections"`
	// CPUUsPerReq is the server's CPU time per request, the figure least
	// disturbed by other load on the machine.
	CPUUsPerReq float64 `json:"cpu_us_per_req"`
}

// Resolve is audited resolves on the embedded default (SQLite, in-process
// cache) and, when configured, on PostgreSQL and Redis (pg_*) and on a real
// Fabric network (fabric_*).
type Resolve struct {
	RPS               float64 `json:"rps"`
	P50Ms             float64 `json:"p50_ms"`
	P99Ms             float64 `json:"p99_ms"`
	Errors            float64 `json:"errors"`
	Connections       float64 `json:"connections"`
	Pairs             float64 `json:"pairs"`
	ResolveVsBaseline float64 `json:"resolve_vs_baseline"`
	CPUUsPerReq       float64 `json:"cpu_us_per_req"` // the gateway's
	// RecordsPerCommit is the access records per access-log transaction
	// during the load (the gateway's /metrics): its group commits' size.
	RecordsPerCommit float64 `json:"records_per_commit"`

	PGRPS               float64 `json:"pg_rps,omitempty"`
	PGP50Ms             float64 `json:"pg_p50_ms,omitempty"`
	PGP99Ms             float64 `json:"pg_p99_ms,omitempty"`
	PGErrors            float64 `json:"pg_errors,omitempty"`
	PGResolveVsBaseline float64 `json:"pg_resolve_vs_baseline,omitempty"`
	// PGVsEmbedded is pg_rps ÷ rps of the same run.
	PGVsEmbedded       float64 `json:"pg_vs_embedded,omitempty"`
	PGCPUUsPerReq      float64 `json:"pg_cpu_us_per_req,omitempty"`
	PGPeakRSSMB        float64 `json:"pg_peak_rss_mb,omitempty"`
	PGRecordsPerCommit float64 `json:"pg_records_per_commit,omitempty"`
	// PGRedisCmdsPerReq is the commands the Redis server ran during the
	// load per resolve (the server's count, so other clients' too).
	PGRedisCmdsPerReq float64 `json:"pg_redis_cmds_per_req,omitempty"`

	FabricRPS    float64 `json:"fabric_rps,omitempty"`
	FabricP50Ms  float64 `json:"fabric_p50_ms,omitempty"`
	FabricP99Ms  float64 `json:"fabric_p99_ms,omitempty"`
	FabricErrors float64 `json:"fabric_errors,omitempty"`
}

// Ledger is the embedded peer under concurrent submitters and, with
// --ledger fabric, the real network's peers and orderers (fabric_*).
type Ledger struct {
	SubmitTPS    float64 `json:"submit_tps"`
	CommitP50Ms  float64 `json:"commit_p50_ms"`
	CommitP99Ms  float64 `json:"commit_p99_ms"`
	Submitters   float64 `json:"submitters"`
	SubmitErrors float64 `json:"submit_errors"`
	EvaluatePerS float64 `json:"evaluate_per_s"`
	EvaluateP99  float64 `json:"evaluate_p99_ms"`
	// CPUUsPerTx is this process's CPU time (client and peer) per
	// committed transaction, during the submissions.
	CPUUsPerTx float64 `json:"cpu_us_per_tx"`

	FabricSubmitTPS    float64 `json:"fabric_submit_tps,omitempty"`
	FabricCommitP50Ms  float64 `json:"fabric_commit_p50_ms,omitempty"`
	FabricCommitP99Ms  float64 `json:"fabric_commit_p99_ms,omitempty"`
	FabricSubmitErrors float64 `json:"fabric_submit_errors,omitempty"`
	FabricEvaluatePerS float64 `json:"fabric_evaluate_per_s,omitempty"`
	FabricEvaluateP99  float64 `json:"fabric_evaluate_p99_ms,omitempty"`
}

// Anchoring is how access records reached the ledger during the resolve
// load: records per anchoring transaction and the age of the oldest
// unanchored record.
type Anchoring struct {
	RecordsPerTx float64 `json:"records_per_tx"`
	Batches      float64 `json:"batches"`
	Records      float64 `json:"records"`
	LagMeanMs    float64 `json:"lag_mean_ms"`
	LagMaxMs     float64 `json:"lag_max_ms"`

	FabricRecordsPerTx float64 `json:"fabric_records_per_tx,omitempty"`
	FabricLagMaxMs     float64 `json:"fabric_lag_max_ms,omitempty"`
}

// Import is a bulk import of a generated file of valid, distinct rows.
type Import struct {
	Rows     float64 `json:"rows"`
	Seconds  float64 `json:"seconds"`
	RowsPerS float64 `json:"rows_per_s"`
	// WrittenKBPerKRow is what the process wrote (database, WAL, ledger)
	// per thousand rows: the figure that bounds an import on a slow disk.
	WrittenKBPerKRow float64 `json:"written_kb_per_1k_rows"`
	// CPUUsPerRow is this process's CPU time (importer, database, peer)
	// per row.
	CPUUsPerRow float64 `json:"cpu_us_per_row"`
	// The rate of the first and of the last tenth of the rows (of
	// 1,000,000: the first and the last 100,000), and last ÷ first: how
	// much the import slows as the tables grow.
	FirstTenthRowsPerS float64 `json:"first_tenth_rows_per_s,omitempty"`
	LastTenthRowsPerS  float64 `json:"last_tenth_rows_per_s,omitempty"`
	LastVsFirstTenth   float64 `json:"last_vs_first_tenth,omitempty"`

	// The same import into PostgreSQL (--db), the embedded peer as above.
	// pg_cpu_us_per_row is this process's CPU only: the database server's
	// is not in it.
	PGRows               float64 `json:"pg_rows,omitempty"`
	PGSeconds            float64 `json:"pg_seconds,omitempty"`
	PGRowsPerS           float64 `json:"pg_rows_per_s,omitempty"`
	PGCPUUsPerRow        float64 `json:"pg_cpu_us_per_row,omitempty"`
	PGFirstTenthRowsPerS float64 `json:"pg_first_tenth_rows_per_s,omitempty"`
	PGLastTenthRowsPerS  float64 `json:"pg_last_tenth_rows_per_s,omitempty"`
	PGLastVsFirstTenth   float64 `json:"pg_last_vs_first_tenth,omitempty"`
}

// DID is DID resolution through the gateway's resolver endpoint.
type DID struct {
	RPS    float64 `json:"rps"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	Errors float64 `json:"errors"`
}

// Memory is the gateway process: its peak resident memory during the
// resolve load, and before it (start-up, resident sign-ins and consents:
// a password hash holds 64 MiB while it runs), its start-up to ready on an
// existing data dir, and its first start on a fresh one (with the demo
// load).
type Memory struct {
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// PeakAnonRSSMB is the largest anonymous resident memory (heap,
	// stacks, the ledger store's cache and memtables) sampled during the
	// load: the process's own memory, without the clean file pages of its
	// program and files that peak_rss_mb also counts.
	PeakAnonRSSMB     float64 `json:"peak_anon_rss_mb"`
	SetupPeakRSSMB    float64 `json:"setup_peak_rss_mb"`
	ReadyMs           float64 `json:"ready_ms"`
	FirstStartMs      float64 `json:"first_start_ms"`
	BaselinePeakRSSMB float64 `json:"baseline_peak_rss_mb"`
}

// Size is the resolve load on gateways with a small and with a large
// population loaded (residents with their eIDs, document mappings and
// one route each), spread over the same number of them (Resolved, each
// with a consent). The cold figures are the first resolve of each of those
// residents, none of them cached yet; the others are the steady load after
// it. The peaks are the gateway child's resident set from ready to the end
// of the load; the ready peaks are its start-up's.
type Size struct {
	SmallResidents   float64 `json:"small_residents"`
	LargeResidents   float64 `json:"large_residents"`
	Resolved         float64 `json:"resolved"`
	Connections      float64 `json:"connections"`
	SmallRPS         float64 `json:"small_resolves_per_s"`
	LargeRPS         float64 `json:"large_resolves_per_s"`
	LargeVsSmall     float64 `json:"large_vs_small"`
	SmallP50Ms       float64 `json:"small_p50_ms"`
	LargeP50Ms       float64 `json:"large_p50_ms"`
	SmallP99Ms       float64 `json:"small_p99_ms"`
	LargeP99Ms       float64 `json:"large_p99_ms"`
	SmallErrors      float64 `json:"small_errors"`
	LargeErrors      float64 `json:"large_errors"`
	SmallCPUUsPerReq float64 `json:"small_cpu_us_per_req"`
	LargeCPUUsPerReq float64 `json:"large_cpu_us_per_req"`
	SmallColdRPS     float64 `json:"small_cold_resolves_per_s"`
	LargeColdRPS     float64 `json:"large_cold_resolves_per_s"`
	ColdLargeVsSmall float64 `json:"cold_large_vs_small"`
	SmallColdP99Ms   float64 `json:"small_cold_p99_ms"`
	LargeColdP99Ms   float64 `json:"large_cold_p99_ms"`
	SmallPeakRSSMB   float64 `json:"small_peak_rss_mb"`
	LargePeakRSSMB   float64 `json:"large_peak_rss_mb"`
	// The largest anonymous resident memory (heap, stacks) sampled every
	// 100 ms from ready to the end of the load: the peaks above also count
	// the pages of the ledger file the peer maps, which the kernel maps in
	// around every page read and may drop again at any time.
	SmallPeakAnonMB float64 `json:"small_peak_anon_rss_mb"`
	LargePeakAnonMB float64 `json:"large_peak_anon_rss_mb"`
	SmallReadyRSSMB float64 `json:"small_ready_rss_mb"`
	LargeReadyRSSMB float64 `json:"large_ready_rss_mb"`
	SmallReadyMs    float64 `json:"small_ready_ms"`
	LargeReadyMs    float64 `json:"large_ready_ms"`
	// The seconds it took to load each population (import, routes,
	// consents), not a figure of the gateway under load.
	SmallLoadSeconds float64 `json:"small_load_s"`
	LargeLoadSeconds float64 `json:"large_load_s"`
}

// Sections are the report's parts in order, by their JSON key.
func (r *Report) Sections() []string {
	var out []string
	t := reflect.TypeOf(*r)
	for i := range t.NumField() {
		out = append(out, jsonName(t.Field(i)))
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as a table: part, figure, value.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "part\tfigure\tvalue\t")
	v := reflect.ValueOf(*r)
	for i := range v.NumField() {
		part := jsonName(v.Type().Field(i))
		sec := v.Field(i)
		first := true
		for j := range sec.NumField() {
			f := sec.Type().Field(j)
			x := sec.Field(j).Float()
			if x == 0 && strings.Contains(f.Tag.Get("json"), "omitempty") {
				continue
			}
			label := ""
			if first {
				label = part
				first = false
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", label, jsonName(f), FormatNumber(x))
		}
	}
	return tw.Flush()
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// FormatNumber prints whole numbers with thousands separators and others
// with three significant decimals at most.
func FormatNumber(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	if x == math.Trunc(x) || math.Abs(x) >= 1000 {
		s := strconv.FormatInt(int64(math.Round(x)), 10)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	}
	switch {
	case math.Abs(x) >= 100:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case math.Abs(x) >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'f', 3, 64)
	}
}

// Round3 rounds to three decimals, to keep the JSON readable.
func Round3(x float64) float64 { return math.Round(x*1000) / 1000 }
