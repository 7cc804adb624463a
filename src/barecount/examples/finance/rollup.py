"""The downstream example: a 7-day revenue roll-up that runs when finance-kpi publishes a day."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, insert, inspect, select, text

from barecount import StageContext, StageResult, TransientError, fingerprint_rows
from barecount.examples.finance.tables import kpi_values

ROLLUP_KPIS = ("revenue_7d", "revenue_7d_days")

# In integer cents, so the sum is exact and the same on every database (each revenue_daily
# is a whole number of cents up to float error: round() has no tie to break).
_WINDOW_TOTALS = text(
    "SELECT CAST(coalesce(sum(CAST(round(value * 100) AS BIGINT)), 0) AS BIGINT), count(*)"
    " FROM kpi_values WHERE pipeline = :upstream AND kpi = 'revenue_daily'"
    " AND partition BETWEEN :first AND :day"
)


def rollup_revenue(ctx: StageContext) -> StageResult:
    """revenue_7d: the sum of the upstream's revenue_daily over the 7 days ending on D.

    Params: ``upstream`` (default 'finance-kpi'), ``days`` (default 7). Also publishes
    ``revenue_7d_days``, how many of those days the upstream has published, so a partial
    window is visible rather than silently small.
    """
    upstream = ctx.params.get("upstream", "finance-kpi")
    days = int(ctx.params.get("days", 7))
    day = date.fromisoformat(ctx.partition)
    first = (day - timedelta(days=days - 1)).isoformat()
    mine = (kpi_values.c.pipeline == ctx.pipeline) & (kpi_values.c.partition == ctx.partition)
    with ctx.connection() as conn:
        if not inspect(conn).has_table("kpi_values"):
            raise TransientError(f"no kpi_values table yet: {upstream} has published nothing")
        cents, published = conn.execute(
            _WINDOW_TOTALS, {"upstream": upstream, "first": first, "day": ctx.partition}
        ).one()
        conn.execute(delete(kpi_values).where(mine & kpi_values.c.kpi.in_(ROLLUP_KPIS)))
        conn.execute(
            insert(kpi_values),
            [
                {
                    "pipeline": ctx.pipeline,
                    "kpi": kpi,
                    "partition": ctx.partition,
                    "value": value,
                    "token": ctx.token,
                }
                for kpi, value in (
                    ("revenue_7d", cents / 100),
                    ("revenue_7d_days", float(published)),
                )
            ],
        )
        stored = conn.execute(select(kpi_values.c.kpi, kpi_values.c.value).where(mine)).all()
    values = {kpi: value for kpi, value in stored if kpi in ROLLUP_KPIS}
    # By kpi, sorted here: ORDER BY on text follows the database's collation.
    fingerprint = fingerprint_rows(sorted(tuple(row) for row in stored))
    return StageResult(tables={"kpi_values": len(values)}, fingerprint=fingerprint, kpis=values)
