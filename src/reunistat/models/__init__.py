"""Models of re-entry: survival, logistic, evaluation."""
