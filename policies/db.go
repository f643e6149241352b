package policies

import (
	"context"
	"errors"
	"time"

	gormadapter "github.com/casbin/gorm-adapter/v3"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/eidgate/eidgate/routing"
)

// Tables owned by this package.
const (
	// RulesTable holds rules and role mappings in the gorm adapter's layout
	// (ptype, v0…v5, unique over all columns).
	RulesTable = "policy_rules"
	// VersionsTable holds one row per policy change.
	VersionsTable = "policy_versions"
)

// writerLockKey is the PostgreSQL advisory lock that serialises policy
// writers across gateway replicas ("eidgate-policy" as a number).
const writerLockKey int64 = 0x6569_6467_706f_6c69

// versionRow is one policy change.
type versionRow struct {
	Version   int64     `gorm:"primaryKey;autoIncrement:false"`
	ChangedBy string    `gorm:"size:128;not null"`
	Summary   string    `gorm:"size:1000;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

func (versionRow) TableName() string { return VersionsTable }

// Version is one entry of the policy history.
type Version struct {
	Version   int64     `json:"version"`
	ChangedBy string    `json:"changed_by"`
	Summary   string    `json:"summary"`
	CreatedAt time.Time `json:"created_at"`
}

func isPostgres(db *gorm.DB) bool { return db.Name() == "postgres" }

// lockWriters serialises policy writers for the rest of the transaction,
// before anything is read, so the version a writer computes is never taken
// by another. PostgreSQL: an advisory lock shared by every replica. SQLite:
// a write statement that changes nothing takes the database's write lock
// at once (a transaction that read first could fail with SQLITE_BUSY when
// it tries to write); other connections wait for it up to their
// busy_timeout.
func lockWriters(tx *gorm.DB) error {
	if isPostgres(tx) {
		return tx.Exec("SELECT pg_advisory_xact_lock(?)", writerLockKey).Error
	}
	return tx.Exec("UPDATE " + VersionsTable + " SET version = version WHERE 1 = 0").Error
}

// migrate creates the rules table (through the adapter, which also adds its
// unique index) and the versions table, under the writer lock so replicas
// starting together do not race on DDL.
func migrate(ctx context.Context, db *gorm.DB) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if isPostgres(tx) {
			if err := lockWriters(tx); err != nil {
				return err
			}
		}
		if _, err := gormadapter.NewAdapterByDBUseTableName(tx, "", RulesTable); err != nil {
			return err
		}
		return tx.AutoMigrate(&versionRow{}, &breakGlassRow{})
	})
}

// newAdapter returns the adapter the engine loads policy through; the
// tables exist already, so it does not migrate.
func newAdapter(db *gorm.DB) (*gormadapter.Adapter, error) {
	d := db.Session(&gorm.Session{})
	gormadapter.TurnOffAutoMigrate(d)
	return gormadapter.NewAdapterByDBUseTableName(d, "", RulesTable)
}

func currentVersion(ctx context.Context, db *gorm.DB) (int64, error) {
	var v int64
	err := db.WithContext(ctx).Model(&versionRow{}).Select("COALESCE(MAX(version), 0)").Scan(&v).Error
	return v, err
}

func rulesTx(tx *gorm.DB) *gorm.DB { return tx.Table(RulesTable) }

func ruleRow(r Rule) gormadapter.CasbinRule {
	return gormadapter.CasbinRule{Ptype: "p", V0: r.Subject, V1: r.DataType, V2: r.Purpose, V3: r.Effect}
}

func roleRow(m RoleMapping) gormadapter.CasbinRule {
	return gormadapter.CasbinRule{Ptype: "g", V0: m.Member, V1: m.Role}
}

// insertRow adds a row; inserted is false when an identical row exists.
func insertRow(tx *gorm.DB, row gormadapter.CasbinRule) (inserted bool, err error) {
	res := rulesTx(tx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	return res.RowsAffected == 1, res.Error
}

// deleteRow removes a row; deleted is false when there was none.
func deleteRow(tx *gorm.DB, row gormadapter.CasbinRule) (deleted bool, err error) {
	res := rulesTx(tx).
		Where("ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ? AND v5 = ?",
			row.Ptype, row.V0, row.V1, row.V2, row.V3, row.V4, row.V5).
		Delete(&gormadapter.CasbinRule{})
	return res.RowsAffected > 0, res.Error
}

func deleteAllRows(tx *gorm.DB) error {
	return rulesTx(tx).Where("1 = 1").Delete(&gormadapter.CasbinRule{}).Error
}

func insertRows(tx *gorm.DB, s PolicySet) error {
	rows := make([]gormadapter.CasbinRule, 0, len(s.Roles)+len(s.Rules))
	for _, m := range s.Roles {
		rows = append(rows, roleRow(m))
	}
	for _, r := range s.Rules {
		rows = append(rows, ruleRow(r))
	}
	if len(rows) == 0 {
		return nil
	}
	return rulesTx(tx).CreateInBatches(&rows, 500).Error
}

func countRows(tx *gorm.DB, table string) (int64, error) {
	var n int64
	err := tx.Table(table).Count(&n).Error
	return n, err
}

// errNothingToDo rolls a change back without an error for the caller.
var errNothingToDo = errors.New("nothing to do")

// dbError classifies a database failure; domain errors pass through.
func dbError(op string, err error) error {
	var e *routing.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return routing.Unavailable(op, "database_unavailable", "the policy database did not answer in time", err)
	}
	return routing.Unavailable(op, "database_unavailable", "the policy database is unavailable", err)
}
