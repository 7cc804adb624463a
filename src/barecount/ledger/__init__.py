"""The Evidence Ledger: append-only, hash-chained SQLModel tables of everything that happened."""
