package plan

import (
	"encoding/json"
	"testing"
)

// TestIntentsJSONMatchesEncodingJSON: the hand-written encoder gives encoding/json's
// bytes (the unit's cache key and the templates' argument are made of them).
func TestIntentsJSONMatchesEncodingJSON(t *testing.T) {
	type plain Intents // without the MarshalJSON method
	for name, in := range map[string]Intents{
		"empty":    {},
		"outgoing": {Outgoing: map[string][]Edge{"web": {{From: EdgeFrom{"shop", "web"}, To: EdgeTo{"pay", "api", 8080, "http"}, Methods: []string{"GET"}, Paths: []string{"/v1/*"}}}}},
		"both": {
			Outgoing: map[string][]Edge{"b": nil, "a": {{From: EdgeFrom{"t", "a"}, To: EdgeTo{Team: "u", App: "x", Port: 1}}}},
			Incoming: map[string][]Edge{"z": {{From: EdgeFrom{"<&>\u2028", "é\x00"}, To: EdgeTo{"t", "z", 65535, "grpc"}, Methods: []string{}, Paths: []string{"/\"q\"", "\\"}}}},
		},
		"invalid utf-8": {Incoming: map[string][]Edge{"\xff": {{From: EdgeFrom{"a\xffb", "c"}}}}},
	} {
		want, err := json.Marshal(plain(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
