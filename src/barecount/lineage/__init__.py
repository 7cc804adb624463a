"""OpenLineage for the Evidence Ledger: events built from ledger rows, emitted live as stages
finish (when OPENLINEAGE_URL or an openlineage.yml is configured) and exported as JSONL."""
