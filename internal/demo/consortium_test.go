package demo

import (
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing/digest"
)

func TestPlanIsValid(t *testing.T) {
	depts := map[string]bool{}
	for _, d := range Departments {
		if !model.ValidDepartmentID(d.ID) {
			t.Errorf("department id %q", d.ID)
		}
		depts[d.ID] = true
	}
	types := map[string]bool{}
	for _, dt := range DataTypes {
		if !model.ValidDataTypeCode(dt.Code) || !depts[dt.Owner] {
			t.Errorf("data type %q owner %q", dt.Code, dt.Owner)
		}
		types[dt.Code] = true
	}
	for _, r := range Residents {
		for _, d := range r.Documents {
			if _, err := mapping.Parse(mapping.Input{Type: mapping.DocType(d.Type), Number: d.Number, Country: d.Country}, time.Now()); err != nil {
				t.Errorf("%s: %v", r.Name, err)
			}
		}
		for _, rec := range r.Records {
			if !types[rec.DataType] {
				t.Errorf("%s: unknown data type %s", r.Name, rec.DataType)
			}
			if _, err := digest.Compute(RecordJSON(rec), digest.NewSalt()); err != nil {
				t.Errorf("%s %s: %v", r.Name, rec.DataType, err)
			}
		}
	}
}
