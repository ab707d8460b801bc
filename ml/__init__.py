"""Features, PyG datasets, the GNN and baseline models, training, evaluation and scoring."""
