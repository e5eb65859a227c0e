package engine

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stellaops/authgate/pkg/policy"
)

func TestCheckRequestMapsAnEvaluation(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   policy.Evaluation
		want policy.Request
	}{
		{"plain id", policy.Evaluation{Subject: policy.Entity{Type: "actor", ID: "atm-backup-daily"}, Action: policy.Action{Name: "ssh.sign"}, Resource: policy.Entity{Type: "host", ID: "b1"}},
			policy.Request{Actor: "atm-backup-daily", Subject: "atm-backup-daily", Action: "ssh.sign", Resource: "b1"}},
		{"iam id", policy.Evaluation{Subject: policy.Entity{Type: "actor", ID: "iam:atm-backup-daily"}, Action: policy.Action{Name: "ssh.sign"}, Resource: policy.Entity{Type: "host", ID: "b1"},
			Context: map[string]any{"ttl_hours": int64(8), "principal": "atm-backup-daily"}},
			policy.Request{Actor: "atm-backup-daily", Subject: "iam:atm-backup-daily", Action: "ssh.sign", Resource: "b1", Principal: "atm-backup-daily", TTLHours: 8, HasTTL: true,
				Context: map[string]any{"ttl_hours": int64(8), "principal": "atm-backup-daily"}}},
		{"actor property", policy.Evaluation{Subject: policy.Entity{Type: "user", ID: "alice", Properties: map[string]any{"actor": "adm-example"}}, Action: policy.Action{Name: "ssh.sign"},
			Resource: policy.Entity{Type: "host", ID: "h", Properties: map[string]any{"ttl_hours": int64(8), "principal": "p"}}},
			policy.Request{Actor: "adm-example", Subject: "alice", Action: "ssh.sign", Resource: "h", Principal: "p", TTLHours: 8, HasTTL: true}},
		{"context before resource", policy.Evaluation{Subject: policy.Entity{ID: "a"}, Action: policy.Action{Name: "n"},
			Resource: policy.Entity{ID: "r", Properties: map[string]any{"ttl_hours": int64(8), "principal": "p"}}, Context: map[string]any{"ttl_hours": int64(2), "principal": "q"}},
			policy.Request{Actor: "a", Subject: "a", Action: "n", Resource: "r", Principal: "q", TTLHours: 2, HasTTL: true, Context: map[string]any{"ttl_hours": int64(2), "principal": "q"}}},
		{"empty context dropped", policy.Evaluation{Subject: policy.Entity{ID: "a"}, Context: map[string]any{}},
			policy.Request{Actor: "a", Subject: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckRequest(&tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestCheckRequestRefusesWithTheMemberNamed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ev    policy.Evaluation
		field string
	}{
		{"no actor in the id", policy.Evaluation{Subject: policy.Entity{ID: "iam:"}}, "subject.id"},
		{"actor property not a string", policy.Evaluation{Subject: policy.Entity{ID: "a", Properties: map[string]any{"actor": int64(1)}}}, "subject.properties.actor"},
		{"empty actor property", policy.Evaluation{Subject: policy.Entity{ID: "a", Properties: map[string]any{"actor": ""}}}, "subject.properties.actor"},
		{"nested context", policy.Evaluation{Subject: policy.Entity{ID: "a"}, Context: map[string]any{"k": map[string]any{}}}, "context.k"},
		{"nested resource property", policy.Evaluation{Subject: policy.Entity{ID: "a"}, Resource: policy.Entity{Properties: map[string]any{"k": []any{}}}}, "resource.properties.k"},
		{"principal not a string", policy.Evaluation{Subject: policy.Entity{ID: "a"}, Context: map[string]any{"principal": true}}, "context.principal"},
		{"ttl not an integer", policy.Evaluation{Subject: policy.Entity{ID: "a"}, Resource: policy.Entity{Properties: map[string]any{"ttl_hours": 1.5}}}, "resource.properties.ttl_hours"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckRequest(&tc.ev)
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tc.field || re.Problem == "" {
				t.Fatalf("err = %v, want one on %q", err, tc.field)
			}
		})
	}
}
