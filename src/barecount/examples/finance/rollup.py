"""The downstream example: a 7-day revenue roll-up that runs when finance-kpi publishes a day."""

from __future__ import annotations

from datetime import date, timedelta

from barecount import StageContext, StageResult, TransientError, fingerprint_query


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
    with ctx.connect() as conn:
        exists = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kpi_values'"
        ).fetchone()[0]
        if not exists:
            raise TransientError(f"no kpi_values table yet: {upstream} has published nothing")
        conn.execute(
            "DELETE FROM kpi_values WHERE pipeline = ? AND partition = ?"
            " AND kpi IN ('revenue_7d', 'revenue_7d_days')",
            (ctx.pipeline, ctx.partition),
        )
        conn.execute(
            """INSERT INTO kpi_values (pipeline, kpi, partition, value, token)
            SELECT :pipeline, 'revenue_7d', :day, round(coalesce(sum(value), 0), 2), :token
              FROM kpi_values WHERE pipeline = :upstream AND kpi = 'revenue_daily'
               AND partition BETWEEN :first AND :day
            UNION ALL
            SELECT :pipeline, 'revenue_7d_days', :day, count(*), :token
              FROM kpi_values WHERE pipeline = :upstream AND kpi = 'revenue_daily'
               AND partition BETWEEN :first AND :day""",
            {
                "pipeline": ctx.pipeline,
                "day": ctx.partition,
                "token": ctx.token,
                "upstream": upstream,
                "first": first,
            },
        )
        values = dict(
            conn.execute(
                "SELECT kpi, value FROM kpi_values WHERE pipeline = ? AND partition = ?"
                " AND kpi IN ('revenue_7d', 'revenue_7d_days')",
                (ctx.pipeline, ctx.partition),
            ).fetchall()
        )
        fingerprint = fingerprint_query(
            conn,
            "SELECT kpi, value FROM kpi_values WHERE pipeline = ? AND partition = ? ORDER BY kpi",
            (ctx.pipeline, ctx.partition),
        )
    return StageResult(tables={"kpi_values": len(values)}, fingerprint=fingerprint, kpis=values)
