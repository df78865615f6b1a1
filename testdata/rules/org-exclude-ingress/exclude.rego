# Platform namespaces manage their own ingress: ppc writes no ingress
# section for workloads in monitoring and kube-system (their egress is
# still compiled).
package ppc.ext.platform

exclude_ingress_namespace contains "monitoring"

exclude_ingress_namespace contains "kube-system"
