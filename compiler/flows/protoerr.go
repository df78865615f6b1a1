package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	unknownFieldRE = regexp.MustCompile(`unknown field "([^"]*)"`)
	protoPosRE     = regexp.MustCompile(`\s*\(line (\d+):(\d+)\)`)
)

// unknownField extracts the field name from protojson's unknown-field error.
func unknownField(err error) (string, bool) {
	m := unknownFieldRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// cleanProtoErr rewrites a protojson error for users: protojson prefixes
// its messages with "proto:" and a randomly chosen space (to discourage
// matching), and gives positions relative to the record; we give the line
// in the file instead.
func cleanProtoErr(err error, baseLine int) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "proto:")
	msg = strings.TrimLeft(msg, " \u00a0")
	where := ""
	if m := protoPosRE.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		c, _ := strconv.Atoi(m[2])
		where = fmt.Sprintf(" (line %d, column %d)", baseLine+l-1, c)
		msg = protoPosRE.ReplaceAllString(msg, "")
	}
	msg = strings.TrimSpace(strings.TrimPrefix(msg, ":"))
	return errors.New("invalid flow: " + msg + where)
}

// dropExtensions removes the "extensions" field of a flow (an Any whose
// message type is usually unknown to us, which protojson cannot skip), at
// the top level and inside "flow".
func dropExtensions(data []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	delete(top, "extensions")
	if inner, ok := top["flow"]; ok {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(inner, &f); err == nil && f != nil {
			delete(f, "extensions")
			b, err := json.Marshal(f)
			if err != nil {
				return nil, err
			}
			top["flow"] = b
		}
	}
	return json.Marshal(top)
}
