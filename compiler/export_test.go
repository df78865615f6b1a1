package compiler

// AnomalyBesideEdges lets tests lower the largest graph the anomaly
// stage runs beside decide for.
var AnomalyBesideEdges = &anomalyBesideEdges
