package checkapi

import (
	"testing"
)

var checkBody = []byte(`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","action":"ssh.sign","principal":"agt-task-bridge","ttl_hours":24,"context":{"region":"eu-1"}}`)

// BenchmarkDecodeCheck is the /v1/check decoder as served: the member-name
// walk over the library's tokens, then the library's decoder.
func BenchmarkDecodeCheck(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(checkBody); err != nil {
			b.Fatal(err)
		}
	}
}

var evalBody = []byte(`{"subject":{"type":"user","id":"alice@example.com","properties":{"department":"ops","roles":["editor","viewer"]}},"action":{"name":"can_update_todo"},"resource":{"type":"todo","id":"todo-1","properties":{"ownerID":"alice@example.com","labels":[{"k":"a","v":1}]}},"context":{"time":"2026-01-01T00:00:00Z","ip":"10.0.0.1"}}`)

// BenchmarkDecodeEvaluation is the AuthZEN decoder as served: json v2 for
// the structure, jsontext for bounded attribute values.
func BenchmarkDecodeEvaluation(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvaluation(evalBody); err != nil {
			b.Fatal(err)
		}
	}
}
