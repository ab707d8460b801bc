"""The store's engines: embedded FalkorDB (native protocol) and Neo4j 5 (Bolt)."""
