package policies

import (
	"context"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// BreakGlassTable holds the break-glass grants of the policy.
const BreakGlassTable = "policy_break_glass"

// MaxSealDays bounds the seal a grant sets: an access is disclosed to the
// resident at the latest this long after it happened.
const MaxSealDays = 5 * 366

// Grant is a break-glass grant as the policy lists it: Subject (a
// department id or a role name, as rules name subjects; never *) may
// resolve DataType (a code or a prefix pattern, never *) for Purpose (a
// purpose code, never *) without the resident's consent, stating a legal
// basis each time; each such access is sealed from the resident for
// SealDays. A grant lifts the consent requirement only where the rules
// allow the request: a deny rule, or no allow rule, still refuses it.
type Grant struct {
	Subject   string    `json:"subject"`
	DataType  string    `json:"data_type"`
	Purpose   string    `json:"purpose"`
	SealDays  int       `json:"seal_days"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// String names the grant as the policy history does.
func (g Grant) String() string {
	return "break-glass, " + g.Subject + ", " + g.DataType + ", " + g.Purpose + ", sealed " + strconv.Itoa(g.SealDays) + " days"
}

func (g Grant) routing() routing.BreakGlassGrant {
	return routing.BreakGlassGrant{Subject: g.Subject, DataType: g.DataType, Purpose: g.Purpose,
		Seal: time.Duration(g.SealDays) * 24 * time.Hour}
}

// breakGlassRow is one grant in the database.
type breakGlassRow struct {
	Subject   string    `gorm:"primaryKey;size:64"`
	DataType  string    `gorm:"primaryKey;size:100"`
	Purpose   string    `gorm:"primaryKey;size:64"`
	SealDays  int       `gorm:"not null"`
	CreatedBy string    `gorm:"size:128;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

func (breakGlassRow) TableName() string { return BreakGlassTable }

// ValidateGrant checks a grant's subject, data type, purpose and seal.
func ValidateGrant(g Grant) error { return validateGrant("policies.ValidateGrant", g, true) }

func validateGrant(op string, g Grant, seal bool) error {
	switch {
	case !subjectRe.MatchString(g.Subject):
		return routing.Invalid(op, "subject",
			"subject must be a department id or role name (2-64 lowercase letters, digits or '-'); break-glass is never granted to every department")
	case g.DataType == Any || !validDataTypePattern(g.DataType):
		return routing.Invalid(op, "data_type",
			"data_type must be a data type code (health.record) or a prefix pattern (health.*); break-glass is never granted for every data type")
	case !model.ValidPurposeCode(g.Purpose):
		return routing.Invalid(op, "purpose", "purpose must be the statutory purpose's code, such as emergency_care")
	case seal && (g.SealDays < 0 || g.SealDays > MaxSealDays):
		return routing.Invalid(op, "seal_days", "seal_days must be between 0 and %d", MaxSealDays)
	}
	return nil
}

// SetBreakGlass adds a break-glass grant, or changes the seal of an
// existing one, and returns the new policy version.
func (e *Engine) SetBreakGlass(ctx context.Context, by string, g Grant) (int64, error) {
	const op = "policies.SetBreakGlass"
	if err := validateGrant(op, g, true); err != nil {
		return 0, err
	}
	return e.change(ctx, op, by, "set "+g.String(), func(tx *gorm.DB) error {
		row := breakGlassRow{Subject: g.Subject, DataType: g.DataType, Purpose: g.Purpose, SealDays: g.SealDays,
			CreatedBy: by, CreatedAt: e.clock.Now().UTC()}
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "subject"}, {Name: "data_type"}, {Name: "purpose"}},
			DoUpdates: clause.AssignmentColumns([]string{"seal_days", "created_by", "created_at"}),
		}).Create(&row).Error
	})
}

// RemoveBreakGlass removes the grant for subject, data type and purpose
// (the seal is ignored) and returns the new policy version; removing one
// that does not exist is not_found (break_glass_not_found).
func (e *Engine) RemoveBreakGlass(ctx context.Context, by string, g Grant) (int64, error) {
	const op = "policies.RemoveBreakGlass"
	if err := validateGrant(op, g, false); err != nil {
		return 0, err
	}
	return e.change(ctx, op, by, "remove break-glass, "+g.Subject+", "+g.DataType+", "+g.Purpose, func(tx *gorm.DB) error {
		res := tx.Where("subject = ? AND data_type = ? AND purpose = ?", g.Subject, g.DataType, g.Purpose).Delete(&breakGlassRow{})
		if res.Error == nil && res.RowsAffected == 0 {
			return routing.Errorf(routing.KindNotFound, op, "there is no break-glass grant for %s, %s, %s",
				g.Subject, g.DataType, g.Purpose).WithCode("break_glass_not_found")
		}
		return res.Error
	})
}

// BreakGlassGrants lists the current grants (by subject, data type,
// purpose) after catching up with the database.
func (e *Engine) BreakGlassGrants(ctx context.Context) ([]Grant, error) {
	if err := e.refresh(ctx); err != nil {
		return nil, err
	}
	return slices.Clone(e.snap.Load().grants), nil
}

// loadGrants reads the grants; the caller brackets it with version reads.
func loadGrants(ctx context.Context, db *gorm.DB) ([]Grant, error) {
	var rows []breakGlassRow
	if err := db.WithContext(ctx).Order("subject, data_type, purpose").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Grant, len(rows))
	for i, r := range rows {
		out[i] = Grant{Subject: r.Subject, DataType: r.DataType, Purpose: r.Purpose, SealDays: r.SealDays,
			CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// breakGlass finds the grant that covers the request: its subject is the
// department or a role the department holds (as Casbin resolves roles for
// rules), its pattern covers the data type and its purpose is the
// request's. When several do, the one with the shortest seal applies, so
// overlapping grants never hide an access longer than each allows.
func (s *snapshot) breakGlass(department, dataType, purpose string) *routing.BreakGlassGrant {
	if len(s.grants) == 0 {
		return nil
	}
	subjects := map[string]bool{department: true}
	if roles, err := s.enf.GetImplicitRolesForUser(department); err == nil {
		for _, r := range roles {
			subjects[r] = true
		}
	}
	var best *Grant
	for i := range s.grants {
		g := &s.grants[i]
		if subjects[g.Subject] && g.Purpose == purpose && DataTypeMatch(dataType, g.DataType) &&
			(best == nil || g.SealDays < best.SealDays) {
			best = g
		}
	}
	if best == nil {
		return nil
	}
	out := best.routing()
	return &out
}
