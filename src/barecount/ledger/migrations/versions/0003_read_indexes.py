"""Revision 3: indexes for evidence reads on a big ledger.

``ledger show --token``, the console's evidence page, ``runs`` and ``status`` look rows up by
pipeline and partition, by check, by contract version, and want a pipeline's latest run or
alert; without these a big ledger answers them by scanning or sorting every matching row.
The models declare the same indexes (barecount.ledger.models.READ_INDEXES).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = (  # (name, table, columns): keep in step with models.READ_INDEXES
    ("ix_pipeline_run_pipeline_id", "pipeline_run", ["pipeline", "id"]),
    ("ix_pipeline_run_pipeline_partition", "pipeline_run", ["pipeline", "partition"]),
    ("ix_publication_pipeline_partition", "publication", ["pipeline", "partition"]),
    ("ix_kpi_version_pipeline_partition", "kpi_version", ["pipeline", "partition"]),
    ("ix_alert_pipeline_id", "alert", ["pipeline", "id"]),
    ("ix_hold_event_check_id_id", "hold_event", ["check_id", "id"]),
    ("ix_contract_version_contract_version", "contract_version", ["contract", "version"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
