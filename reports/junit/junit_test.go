package junit

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	doc := Suites{Name: "x", Suites: []Suite{{Name: "s", Cases: []Case{
		{Name: "ok"},
		{Name: "bad <&>", Failure: &Message{Message: "m", Type: "denied", Text: "a\nb"}},
		{Name: "skip", Skipped: &Message{Message: "why"}},
	}}}}
	if err := Write(&b, doc); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, xml.Header) || !strings.Contains(out, `<testsuite name="s" tests="3" failures="1" skipped="1">`) || !strings.Contains(out, `name="bad &lt;&amp;&gt;"`) {
		t.Fatalf("output:\n%s", out)
	}
	var back Suites
	if err := xml.Unmarshal(b.Bytes(), &back); err != nil || len(back.Suites[0].Cases) != 3 || back.Suites[0].Cases[1].Failure.Text != "a\nb" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}
