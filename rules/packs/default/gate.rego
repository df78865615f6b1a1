# Package ppc.gate collects organisation gates over the synthesised
# policies: deny (fails compile, exit 1) and warn (reported). Packs define
# them in their own ppc.ext.<name> package as sets of {"msg": text,
# "policy": "namespace/name"} and may read data.ppc.synth.policies.
package ppc.gate

deny contains x if some x in data.ppc.ext[_].deny

warn contains x if some x in data.ppc.ext[_].warn
