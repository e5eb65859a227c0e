package checkapi

import (
	"errors"
	"reflect"
	"testing"
)

func TestDecodeEvaluationMapping(t *testing.T) {
	ttl := int64(8)
	for _, tc := range []struct {
		name, body string
		want       Request
	}{
		{"plain id", `{"subject":{"type":"actor","id":"atm-backup-daily"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"b1"}}`,
			Request{Actor: "atm-backup-daily", Subject: "atm-backup-daily", Action: "ssh.sign", Resource: "b1"}},
		{"iam id", `{"subject":{"type":"actor","id":"iam:atm-backup-daily"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"b1"},"context":{"ttl_hours":8,"principal":"atm-backup-daily"}}`,
			Request{Actor: "atm-backup-daily", Subject: "iam:atm-backup-daily", Action: "ssh.sign", Resource: "b1", Principal: "atm-backup-daily", TTLHours: &ttl,
				Context: map[string]any{"ttl_hours": int64(8), "principal": "atm-backup-daily"}}},
		{"actor property", `{"subject":{"type":"user","id":"alice","properties":{"actor":"adm-example"}},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h","properties":{"ttl_hours":8}}}`,
			Request{Actor: "adm-example", Subject: "alice", Action: "ssh.sign", Resource: "h", TTLHours: &ttl}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeEvaluation([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeEvaluationRejects(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`{"subject":{"type":"actor"},"action":{"name":"a"},"resource":{"type":"h","id":"x"}}`, "subject.id"},
		{`{"subject":{"type":"actor","id":"a"},"action":{},"resource":{"type":"h","id":"x"}}`, "action.name"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"id":"x"}}`, "resource.type"},
		{`{"subject":{"type":"actor","id":"a","properties":{"actor":7}},"action":{"name":"a"},"resource":{"type":"h","id":"x"}}`, "subject.properties.actor"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"type":"h","id":"x"},"context":{"ttl_hours":"8"}}`, "context.ttl_hours"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"type":"h","id":"x"},"context":{"n":{"deep":1}}}`, "context.n"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"type":"h","id":"x","properties":{"p":[1]}}}`, "resource.properties.p"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"type":"h","id":"x"},"extra":1}`, "extra"},
		{"{\"subject\":{\"type\":\"actor\",\"id\":\"iam:a\xff\"},\"action\":{\"name\":\"a\"},\"resource\":{\"type\":\"h\",\"id\":\"x\"}}", "body"},
	} {
		_, err := DecodeEvaluation([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want field %q", tc.body, err, tc.field)
		}
	}
}

func FuzzDecodeEvaluation(f *testing.F) {
	f.Add([]byte(`{"subject":{"type":"actor","id":"iam:a"},"action":{"name":"ssh.sign"},"resource":{"type":"h","id":"x"},"context":{"ttl_hours":3}}`))
	f.Add([]byte(`{"subject":{"type":"u","id":"b","properties":{"actor":"a"}},"action":{"name":"n"},"resource":{"type":"h","id":"x","properties":{"principal":"p"}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeEvaluation(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v (%T) is not a FieldError", err, err)
			}
			return
		}
		if req.Actor == "" || req.Subject == "" || req.Action == "" || req.Resource == "" {
			t.Fatalf("mapped request lacks a member: %+v", req)
		}
	})
}
