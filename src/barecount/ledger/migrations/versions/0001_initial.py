"""Revision 1: the ledger as ``SQLModel.metadata.create_all`` made it before migrations.

Ledgers created before Alembic have these tables and no ``alembic_version``; they are stamped
at this revision, then upgraded (barecount.ledger.migrate). Frozen: never edit.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=False),
        sa.Column("team", sa.String(length=63), nullable=True),
        sa.Column("channel", sa.String(length=300), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_alert_dedupe_key"), "alert", ["dedupe_key"], unique=False)
    op.create_index(op.f("ix_alert_pipeline"), "alert", ["pipeline"], unique=False)
    op.create_index(op.f("ix_alert_recorded_at"), "alert", ["recorded_at"], unique=False)
    op.create_table(
        "backfill",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("start", sa.String(length=32), nullable=False),
        sa.Column("end", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("pins", sa.JSON(), nullable=True),
        sa.Column("parallel", sa.Integer(), nullable=False),
        sa.Column("fail_fast", sa.Boolean(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_backfill_pipeline"), "backfill", ["pipeline"], unique=False)
    op.create_index(op.f("ix_backfill_recorded_at"), "backfill", ["recorded_at"], unique=False)
    op.create_table(
        "backfill_end",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("backfill_id", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_backfill_end_backfill_id"), "backfill_end", ["backfill_id"], unique=False
    )
    op.create_index(
        op.f("ix_backfill_end_recorded_at"), "backfill_end", ["recorded_at"], unique=False
    )
    op.create_table(
        "backfill_outcome",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("backfill_id", sa.Integer(), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_backfill_outcome_backfill_id"), "backfill_outcome", ["backfill_id"], unique=False
    )
    op.create_index(
        op.f("ix_backfill_outcome_recorded_at"), "backfill_outcome", ["recorded_at"], unique=False
    )
    op.create_table(
        "blocked_run",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("hold_check_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_blocked_run_hold_check_id"), "blocked_run", ["hold_check_id"], unique=False
    )
    op.create_index(
        op.f("ix_blocked_run_recorded_at"), "blocked_run", ["recorded_at"], unique=False
    )
    op.create_table(
        "contract_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("contract", sa.String(length=63), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.Column("object_name", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("approved_by", sa.String(length=63), nullable=True),
        sa.Column("token", sa.String(length=128), nullable=True),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_contract_version_contract"), "contract_version", ["contract"], unique=False
    )
    op.create_index(
        op.f("ix_contract_version_recorded_at"), "contract_version", ["recorded_at"], unique=False
    )
    op.create_table(
        "decision_signature",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=200), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=80), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_decision_signature_decision_id"),
        "decision_signature",
        ["decision_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_decision_signature_recorded_at"),
        "decision_signature",
        ["recorded_at"],
        unique=False,
    )
    op.create_table(
        "gate_check",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=63), nullable=False),
        sa.Column("contract", sa.String(length=63), nullable=False),
        sa.Column("contract_version", sa.String(length=64), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("schema_fingerprint", sa.String(length=80), nullable=False),
        sa.Column("extracted", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("classification", sa.String(length=20), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=True),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_gate_check_contract"), "gate_check", ["contract"], unique=False)
    op.create_index(op.f("ix_gate_check_recorded_at"), "gate_check", ["recorded_at"], unique=False)
    op.create_index(op.f("ix_gate_check_run_id"), "gate_check", ["run_id"], unique=False)
    op.create_index(op.f("ix_gate_check_token"), "gate_check", ["token"], unique=False)
    op.create_table(
        "governance_decision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("contract", sa.String(length=63), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("new_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_governance_decision_check_id"), "governance_decision", ["check_id"], unique=False
    )
    op.create_index(
        op.f("ix_governance_decision_recorded_at"),
        "governance_decision",
        ["recorded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_governance_decision_run_id"), "governance_decision", ["run_id"], unique=False
    )
    op.create_index(
        op.f("ix_governance_decision_token"), "governance_decision", ["token"], unique=False
    )
    op.create_table(
        "hold_event",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("contract", sa.String(length=63), nullable=False),
        sa.Column("contract_version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_hold_event_check_id"), "hold_event", ["check_id"], unique=False)
    op.create_index(op.f("ix_hold_event_contract"), "hold_event", ["contract"], unique=False)
    op.create_index(op.f("ix_hold_event_recorded_at"), "hold_event", ["recorded_at"], unique=False)
    op.create_table(
        "hold_suspension",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("pause_key", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_hold_suspension_check_id"), "hold_suspension", ["check_id"], unique=False
    )
    op.create_index(
        op.f("ix_hold_suspension_flow_run_id"), "hold_suspension", ["flow_run_id"], unique=False
    )
    op.create_index(
        op.f("ix_hold_suspension_recorded_at"), "hold_suspension", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_hold_suspension_run_id"), "hold_suspension", ["run_id"], unique=False)
    op.create_table(
        "hold_waiter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_hold_waiter_check_id"), "hold_waiter", ["check_id"], unique=False)
    op.create_index(
        op.f("ix_hold_waiter_recorded_at"), "hold_waiter", ["recorded_at"], unique=False
    )
    op.create_table(
        "kpi_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("kpi", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pipeline", "kpi", "partition", "token", name="uq_kpi_version_token"),
        sa.UniqueConstraint("pipeline", "kpi", "partition", "version", name="uq_kpi_version"),
    )
    op.create_index(op.f("ix_kpi_version_partition"), "kpi_version", ["partition"], unique=False)
    op.create_index(op.f("ix_kpi_version_pipeline"), "kpi_version", ["pipeline"], unique=False)
    op.create_index(
        op.f("ix_kpi_version_recorded_at"), "kpi_version", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_kpi_version_token"), "kpi_version", ["token"], unique=False)
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "lineage_emission",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=200), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_lineage_emission_recorded_at"), "lineage_emission", ["recorded_at"], unique=False
    )
    op.create_index(
        op.f("ix_lineage_emission_run_id"), "lineage_emission", ["run_id"], unique=False
    )
    op.create_table(
        "pipeline_run",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("manifest_digest", sa.String(length=80), nullable=False),
        sa.Column("contract_versions", sa.JSON(), nullable=True),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("backfill_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_pipeline_run_backfill_id"), "pipeline_run", ["backfill_id"], unique=False
    )
    op.create_index(
        op.f("ix_pipeline_run_flow_run_id"), "pipeline_run", ["flow_run_id"], unique=False
    )
    op.create_index(op.f("ix_pipeline_run_pipeline"), "pipeline_run", ["pipeline"], unique=False)
    op.create_index(
        op.f("ix_pipeline_run_recorded_at"), "pipeline_run", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_pipeline_run_token"), "pipeline_run", ["token"], unique=False)
    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("kpi", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("stage", sa.String(length=63), nullable=False),
        sa.Column("output_fingerprint", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pipeline", "kpi", "partition", "token", name="uq_publication_once"),
    )
    op.create_index(
        op.f("ix_publication_recorded_at"), "publication", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_publication_run_id"), "publication", ["run_id"], unique=False)
    op.create_index(op.f("ix_publication_token"), "publication", ["token"], unique=False)
    op.create_table(
        "requeued_run",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("hold_check_id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=63), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_requeued_run_hold_check_id"), "requeued_run", ["hold_check_id"], unique=False
    )
    op.create_index(
        op.f("ix_requeued_run_recorded_at"), "requeued_run", ["recorded_at"], unique=False
    )
    op.create_table(
        "run_summary",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=True),
        sa.Column("stages", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_run_summary_recorded_at"), "run_summary", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_run_summary_run_id"), "run_summary", ["run_id"], unique=False)
    op.create_index(op.f("ix_run_summary_token"), "run_summary", ["token"], unique=False)
    op.create_table(
        "stage_attempt",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("stage", sa.String(length=63), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error_class", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("transient", sa.Boolean(), nullable=True),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("output_fingerprint", sa.String(length=80), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_stage_attempt_recorded_at"), "stage_attempt", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_stage_attempt_run_id"), "stage_attempt", ["run_id"], unique=False)
    op.create_index(op.f("ix_stage_attempt_token"), "stage_attempt", ["token"], unique=False)
