"""Orchestration, by concern: the run identity and resume checks (identity), what a run keeps or
removes (resume), the shard producer a worker runs (producer), scheduling on Ray (pool),
progress, dataset.json (finalize), and the flow that calls them (generate)."""
