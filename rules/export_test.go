package rules

// AnomalyChunkDone lets tests observe the anomaly stage between chunks.
var AnomalyChunkDone = &anomalyChunkDone
