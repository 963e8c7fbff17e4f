"""``streamseg batch``: many recordings on a Ray cluster, results on any fsspec URL.

manifest: what to run (CSV/JSONL rows, or inputs with one prompt spec); resume: what a
rerun may skip; worker: one recording (``process_recording``) and the actor holding its
engine; runner: the bounded actor pool; table: batch.jsonl and progress; command: the CLI.
Ray is imported only when a batch starts.
"""
