// Package junit writes JUnit XML reports, the test-report format CI
// systems (GitLab, Jenkins, GitHub test reporters) read: ppc replay and
// ppc lint render their results with it.
package junit

import (
	"encoding/xml"
	"io"
)

// Suites is the document: test suites under one name.
type Suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	Suites  []Suite  `xml:"testsuite"`
}

// Suite is a group of test cases; the counts are computed by Write.
type Suite struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Cases    []Case `xml:"testcase"`
}

// Case is one test case: it passes, fails (Failure) or is skipped.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Failure   *Message `xml:"failure,omitempty"`
	Skipped   *Message `xml:"skipped,omitempty"`
}

// Message explains a failure or a skip.
type Message struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Write counts each suite's cases and writes the document, indented, with
// the XML header.
func Write(w io.Writer, doc Suites) error {
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Tests, s.Failures, s.Skipped = len(s.Cases), 0, 0
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
