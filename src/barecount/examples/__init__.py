"""Example pipelines: real stage code on generated but realistic data."""
