"""Storage: shard writer, Parquet index, run files (run.json, shards.jsonl, lock), dataset.json."""
