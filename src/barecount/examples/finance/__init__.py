"""The finance KPI example: ERP invoices to revenue, DSO and overdue ratio."""

from barecount.examples.finance.generator import extract_path, write_extract
from barecount.examples.finance.rollup import rollup_revenue
from barecount.examples.finance.stages import build_invoice_gdp, ingest_invoices, materialize_kpis

__all__ = [
    "build_invoice_gdp",
    "extract_path",
    "ingest_invoices",
    "materialize_kpis",
    "rollup_revenue",
    "write_extract",
]
