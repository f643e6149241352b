// Package demo defines the small consortium `eidgate serve --demo` loads on
// a fresh data dir — three departments, their data types, a few residents
// with identity documents and records — and serves the records through a
// built-in sample provider that verifies access tickets the way a real
// provider department would.
package demo

import (
	"encoding/json"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
)

// DepartmentPlan is a demo department.
type DepartmentPlan struct {
	ID     string
	Name   string // zh-CN
	NameEN string
	MSPID  string // its organisation on the ledger
	// Roles are the kinds of institution it is, which standing rules may
	// name.
	Roles []string
}

// DataTypePlan is a demo data type.
type DataTypePlan struct {
	Code   string
	Name   string
	NameEN string
	Owner  string
	Schema string
	// Predicates are the yes/no questions departments may ask instead
	// of the record.
	Predicates []model.Predicate
}

// RecordPlan is one record a department holds about a resident.
type RecordPlan struct {
	DataType string
	Record   map[string]any
}

// ResidentPlan is a demo resident.
type ResidentPlan struct {
	Name      string
	Documents []mapping.Input
	Records   []RecordPlan
}

// Departments of the demo consortium.
var Departments = []DepartmentPlan{
	{ID: "edu-bureau", Name: "市教育局", NameEN: "Education Bureau", MSPID: "EduBureauMSP"},
	{ID: "civil-affairs", Name: "市民政局", NameEN: "Civil Affairs Bureau", MSPID: "CivilAffairsMSP"},
	{ID: "hrss", Name: "市人力资源和社会保障局", NameEN: "Human Resources and Social Security Bureau", MSPID: "HRSSMSP", Roles: []string{"employer-hr"}},
}

// The schemas label each claim for the portal: "title" in Chinese,
// "x-title-en" in English (annotations; validation ignores them).
const degreeSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["name","degree","major","institution","awarded"],"properties":{"name":{"type":"string","title":"姓名","x-title-en":"Name"},` +
	`"degree":{"type":"string","enum":["bachelor","master","doctor"],"title":"学位","x-title-en":"Degree"},"major":{"type":"string","title":"专业","x-title-en":"Major"},` +
	`"institution":{"type":"string","title":"授予单位","x-title-en":"Institution"},"awarded":{"type":"string","format":"date","title":"授予日期","x-title-en":"Awarded on"}},"additionalProperties":false}`

const transcriptSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["name","institution","gpa","credits"],"properties":{"name":{"type":"string"},` +
	`"institution":{"type":"string"},"gpa":{"type":"number","minimum":0,"maximum":4},"credits":{"type":"integer"}},"additionalProperties":false}`

const marriageSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["status","registered","registry"],"properties":{"status":{"type":"string","enum":["married","divorced","unmarried"]},` +
	`"registered":{"type":"string","format":"date"},"registry":{"type":"string"}},"additionalProperties":false}`

const householdSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["district","members"],"properties":{"city":{"type":"string","title":"城市","x-title-en":"City"},"district":{"type":"string","title":"区","x-title-en":"District"},` +
	`"members":{"type":"integer","minimum":1,"title":"户内人数","x-title-en":"Members"}},"additionalProperties":false}`

const insuranceSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["name","scheme","months_paid","status"],"properties":{"name":{"type":"string"},"scheme":{"type":"string"},` +
	`"months_paid":{"type":"integer","minimum":0},"status":{"type":"string","enum":["active","suspended","closed"]}},"additionalProperties":false}`

const employmentSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["name","employer","since"],"properties":{"name":{"type":"string"},"employer":{"type":"string"},` +
	`"since":{"type":"string","format":"date"}},"additionalProperties":false}`

// DataTypes of the demo consortium.
var DataTypes = []DataTypePlan{
	{Code: "edu.degree", Name: "学位证书", NameEN: "Degree certificate", Owner: "edu-bureau", Schema: degreeSchema,
		Predicates: []model.Predicate{{ID: "bachelor_or_higher", Name: "本科及以上学位", NameEN: "Holds a bachelor's degree or higher",
			Expression: `{"claim":"degree","op":"in","values":["bachelor","master","doctor"]}`}}},
	{Code: "edu.transcript", Name: "成绩单", NameEN: "Academic transcript", Owner: "edu-bureau", Schema: transcriptSchema},
	{Code: "civil.marriage", Name: "婚姻登记", NameEN: "Marriage registration", Owner: "civil-affairs", Schema: marriageSchema},
	{Code: "civil.household", Name: "家庭户信息", NameEN: "Household", Owner: "civil-affairs", Schema: householdSchema,
		Predicates: []model.Predicate{{ID: "household_shanghai", Name: "户籍在上海", NameEN: "Household registered in Shanghai",
			Expression: `{"claim":"city","op":"eq","value":"上海市"}`}}},
	{Code: "hrss.social_insurance", Name: "社会保险缴费", NameEN: "Social insurance contributions", Owner: "hrss", Schema: insuranceSchema},
	{Code: "hrss.employment", Name: "就业登记", NameEN: "Employment registration", Owner: "hrss", Schema: employmentSchema},
}

// Residents of the demo consortium. The document numbers are synthetic but
// valid (GB 11643 check characters, ICAO formats).
var Residents = []ResidentPlan{
	{
		Name:      "王小明",
		Documents: []mapping.Input{{Type: "cn-resident", Number: "110105199003071239"}},
		Records: []RecordPlan{
			{DataType: "edu.degree", Record: map[string]any{"name": "王小明", "degree": "bachelor", "major": "计算机科学与技术", "institution": "北京大学", "awarded": "2012-07-01"}},
			{DataType: "edu.transcript", Record: map[string]any{"name": "王小明", "institution": "北京大学", "gpa": 3.6, "credits": 152}},
			{DataType: "hrss.social_insurance", Record: map[string]any{"name": "王小明", "scheme": "城镇职工基本养老保险", "months_paid": 138, "status": "active"}},
		},
	},
	{
		Name:      "李华",
		Documents: []mapping.Input{{Type: "cn-resident", Number: "310115198511224567"}, {Type: "cn-passport", Number: "E12345678"}},
		Records: []RecordPlan{
			{DataType: "edu.degree", Record: map[string]any{"name": "李华", "degree": "master", "major": "公共管理", "institution": "复旦大学", "awarded": "2010-06-30"}},
			{DataType: "civil.marriage", Record: map[string]any{"status": "married", "registered": "2014-05-20", "registry": "浦东新区民政局"}},
			{DataType: "hrss.employment", Record: map[string]any{"name": "李华", "employer": "上海市某科技有限公司", "since": "2016-03-01"}},
		},
	},
	{
		Name:      "张伟",
		Documents: []mapping.Input{{Type: "cn-resident", Number: "44030519920615789X"}},
		Records: []RecordPlan{
			{DataType: "civil.household", Record: map[string]any{"city": "深圳市", "district": "南山区", "members": 3}},
			{DataType: "hrss.social_insurance", Record: map[string]any{"name": "张伟", "scheme": "城镇职工基本医疗保险", "months_paid": 60, "status": "active"}},
		},
	},
	{
		Name:      "Maria Garcia",
		Documents: []mapping.Input{{Type: "passport", Number: "PAB123456", Country: "ESP"}},
		Records: []RecordPlan{
			{DataType: "hrss.employment", Record: map[string]any{"name": "Maria Garcia", "employer": "Shanghai International School", "since": "2021-09-01"}},
		},
	},
}

// RecordJSON is a record's JSON as the provider serves it.
func RecordJSON(r RecordPlan) []byte {
	b, err := json.Marshal(r.Record)
	if err != nil {
		panic(err) // the plans above are plain JSON values
	}
	return b
}
