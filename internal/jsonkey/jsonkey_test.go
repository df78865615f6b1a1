package jsonkey

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestSameKeyExactlyWhenSameJSON: keys are equal exactly when
// json.Marshal's bytes are, over values that differ in every way a
// policy's parts can.
func TestSameKeyExactlyWhenSameJSON(t *testing.T) {
	docs := []string{
		`null`, `true`, `false`, `"true"`, `"null"`, `1`, `"1"`, `1.0`, `1e3`, `1000`, `""`, `"a"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"é"`,
		`"<"`, `"\u003c"`, `"\ud83d\ude00"`, `"\n"`, `[]`, `{}`, `[1,2]`, `[2,1]`, `["1,2"]`, `[[1],2]`, `[1,[2]]`,
		`{"a":1,"b":2}`, `{"b":2,"a":1}`, `{"a":"1","b":2}`, `{"a,b":1}`, `{"a":{"b":1}}`, `{"a":[{"b":1}]}`, `{"":""}`,
		`{"matchLabels":{"app":"web","k8s:io.kubernetes.pod.namespace":"shop"}}`, `{"matchLabels":{"app":"web"}}`,
		`{"ports":[{"port":"80","protocol":"TCP"}]}`, `{"ports":[{"port":80,"protocol":"TCP"}]}`,
	}
	type kv struct{ key, js []byte }
	var all []kv
	for _, d := range docs {
		dec := json.NewDecoder(bytes.NewReader([]byte(d)))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			t.Fatal(d, err)
		}
		k, ok := Append(nil, x)
		if !ok {
			t.Fatalf("%s: no key", d)
		}
		js, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, kv{k, js})
	}
	for i := range all {
		for j := range all {
			if bytes.Equal(all[i].key, all[j].key) != bytes.Equal(all[i].js, all[j].js) {
				t.Errorf("%s and %s: keys %q %q, JSON %s %s", docs[i], docs[j], all[i].key, all[j].key, all[i].js, all[j].js)
			}
		}
	}
	if _, ok := Append(nil, struct{}{}); ok {
		t.Error("a struct got a key")
	}
}
