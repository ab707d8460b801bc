"""Model kinds behind one interface (`estimator.RiskEstimator`), named in `kinds.MODEL_KINDS`."""
