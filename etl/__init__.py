"""ETL: source files -> validated records -> batched, idempotent writes into the graph."""
