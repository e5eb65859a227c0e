package checkapi

import (
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// The JSON decoding comparison: the hand-written /v1/check decoder
// (decodeFast), the reference decoder it falls back to (encoding/json
// guarded by the member-name scan), and encoding/json/v2
// (github.com/go-json-experiment/json, duplicate names and invalid UTF-8
// refused by default, unknown members refused by option).

var checkBody = []byte(`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","action":"ssh.sign","principal":"agt-task-bridge","ttl_hours":24,"context":{"region":"eu-1"}}`)

func BenchmarkDecodeCheckHandWritten(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(checkBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCheckEncodingJSONStrict(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeStrict(checkBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCheckJSONv2(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var r Request
		if err := jsonv2.Unmarshal(checkBody, &r, jsonv2.RejectUnknownMembers(true)); err != nil {
			b.Fatal(err)
		}
	}
}

var evalBody = []byte(`{"subject":{"type":"user","id":"alice@example.com","properties":{"department":"ops","roles":["editor","viewer"]}},"action":{"name":"can_update_todo"},"resource":{"type":"todo","id":"todo-1","properties":{"ownerID":"alice@example.com","labels":[{"k":"a","v":1}]}},"context":{"time":"2026-01-01T00:00:00Z","ip":"10.0.0.1"}}`)

// BenchmarkDecodeEvaluationJSONv2 is the AuthZEN decoder as served:
// json v2 for the structure, jsontext for bounded attribute values.
func BenchmarkDecodeEvaluationJSONv2(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvaluation(evalBody); err != nil {
			b.Fatal(err)
		}
	}
}

// evaluationV1 is the AuthZEN request as encoding/json (v1) would decode
// it, with the member-name scan in front, as the decoder before json v2.
type evaluationV1 struct {
	Subject struct {
		Type, ID   string
		Properties map[string]any
	}
	Action struct {
		Name       string
		Properties map[string]any
	}
	Resource struct {
		Type, ID   string
		Properties map[string]any
	}
	Context map[string]any
}

func BenchmarkDecodeEvaluationEncodingJSON(b *testing.B) {
	entity := shape{"type": nil, "id": nil, "properties": nil}
	sh := shape{"subject": entity, "action": shape{"name": nil, "properties": nil}, "resource": entity, "context": nil}
	b.ReportAllocs()
	for b.Loop() {
		var ev evaluationV1
		if err := decodeObject(evalBody, &ev, sh); err != nil {
			b.Fatal(err)
		}
	}
}
