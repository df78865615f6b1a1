# METADATA
# title: an HTTP rule that admits every path
# description: >-
#   Envoy matches a rule's path, an RE2 pattern, against the whole :path
#   (pkg/envoy/policy, getHTTPRule); a rule without a path, or with one that
#   matches anything (.*), admits every request of its method. That may be
#   meant — ppc writes method-only rules when the observed paths are too
#   many to list — but a reviewer should see it: name the paths, or say why
#   the method is enough.
# custom:
#   id: CIL012
#   severity: warn
package ppc.lint.cilium.http_any_path

import data.ppc.lint.lib

any_path := {".*", "^.*$", "/.*", "^/.*$", ".*$", "^.*", "(.*)", "^(.*)$"}

warn contains {"msg": sprintf("HTTP rule %s admits every path%s", [describe(h), method_note(h)]), "path": array.concat(p.path, ["rules", "http", i])} if {
	some p in lib.port_lists
	some i, h in object.get(p.entry, ["rules", "http"], [])
	admits_all(h)
}

admits_all(h) if object.get(h, "path", "") == ""

admits_all(h) if h.path in any_path

describe(h) := sprintf("%q", [h.method]) if h.method

describe(h) := "without a method" if not h.method

method_note(h) := "" if h.method

method_note(h) := " and every method" if not h.method
