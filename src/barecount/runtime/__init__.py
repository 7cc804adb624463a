"""The governed flow, stage tasks, run tokens and partitions."""
