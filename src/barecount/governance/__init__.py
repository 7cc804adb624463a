"""Contracts, schema drift, the gate, approvals and signatures."""
