"""The console's HTML templates (Jinja2, autoescaped); no scripts, no external assets."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import DictLoader, Environment, StrictUndefined

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
header{background:#1f2933;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#e4e7eb;text-decoration:none} header a:hover{text-decoration:underline}
header .who{margin-left:auto} header form{display:inline}
main{padding:1rem 1.4rem;max-width:1200px}
table{border-collapse:collapse;margin:.5rem 0 1rem;background:#fff}
th,td{border:1px solid #d9dde3;padding:.3rem .6rem;text-align:left;font-size:.9rem;vertical-align:top}
th{background:#eef1f4} code{font-size:.85rem}
.card{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}
.status-published,.status-completed,.status-approved,.ok{color:#217a3c;font-weight:600}
.status-failed,.status-rejected,.status-blocked,.bad{color:#b42318;font-weight:600}
.status-held,.status-pending,.status-running{color:#a15c00;font-weight:600}
.verdict{padding:.6rem 1rem;border-radius:6px;margin:1rem 0}
.verdict.ok{background:#e3f5e8} .verdict.bad{background:#fde8e7}
.legend span{display:inline-block;padding:.1rem .5rem;margin-right:.4rem;color:#fff;border-radius:3px}
button{padding:.35rem .9rem;border-radius:4px;border:1px solid #666;cursor:pointer}
button.approve{background:#2e9d4f;color:#fff;border-color:#217a3c}
button.reject{background:#d03b3b;color:#fff;border-color:#b42318}
input[type=text],input[type=password]{padding:.3rem;width:22rem}
.muted{color:#616e7c}
"""  # noqa: E501

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · BareCount console</title>
<link rel="stylesheet" href="/static/console.css"></head>
<body><header><strong>BareCount</strong>
<a href="/">Pipelines</a><a href="/pending">Pending approvals</a><a href="/backfills">Backfills</a>
<span class="who">{% if user %}signed in as <strong>{{ user.name }}</strong>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{ user.csrf }}">
<button type="submit">Log out</button></form>{% else %}<a href="/login">Log in</a>{% endif %}</span>
</header><main><h1>{{ title }}</h1>{% block body %}{% endblock %}</main></body></html>
"""

RUN_ROW = """{% macro run_cells(v, ui) -%}
<td>{{ v.run.partition }}</td>
<td class="status-{{ v.status }}">{{ v.status }}</td>
<td>{{ v.attempt_count }}</td><td>{{ v.retries }}</td>
<td><a href="/evidence/{{ v.run.token | urlencode }}"><code>{{ v.run.token[:20] }}</code></a></td>
<td>{{ v.run.trigger }}</td>
<td>{% if v.run.flow_run_id %}<a href="{{ ui }}/runs/flow-run/{{ v.run.flow_run_id }}">Prefect run</a>{% endif %}</td>
<td>{{ v.run.recorded_at.strftime('%Y-%m-%d %H:%M:%S') if v.run.recorded_at else '' }}</td>
{%- endmacro %}"""  # noqa: E501

PIPELINES = """{% extends "layout" %}{% from "run_row" import run_cells %}{% block body %}
<p class="legend">{% for state, (fill, label) in legend %}<span style="background:{{ fill }}">{{ label }}</span>{% endfor %}</p>
{% for p in pipelines %}<section class="card pipeline" id="p-{{ p.name }}">
<h2><a href="/pipelines/{{ p.name | urlencode }}">{{ p.name }}</a></h2>
{{ p.svg | safe }}
{% if p.last %}<table><tr><th>last partition</th><th>status</th><th>attempts</th><th>retries</th><th>token</th><th>trigger</th><th>Prefect</th><th>recorded (UTC)</th></tr>
<tr>{{ run_cells(p.last, ui) }}</tr></table>
{% else %}<p class="muted">no run in the ledger yet</p>{% endif %}
</section>{% else %}<p>No pipelines in {{ root }}.</p>{% endfor %}
{% endblock %}"""  # noqa: E501

PIPELINE = """{% extends "layout" %}{% from "run_row" import run_cells %}{% block body %}
<section class="card">{{ svg | safe }}<p class="muted">coloured by the last run</p></section>
<h2>Runs by partition</h2>
{% for partition, views in history %}<h3>{{ partition }}</h3>
<table><tr><th>partition</th><th>status</th><th>attempts</th><th>retries</th><th>token</th><th>trigger</th><th>Prefect</th><th>recorded (UTC)</th></tr>
{% for v in views %}<tr>{{ run_cells(v, ui) }}</tr>{% endfor %}</table>
{% else %}<p class="muted">no run in the ledger yet</p>{% endfor %}
{% endblock %}"""  # noqa: E501

DIFF = """{% macro diff_table(diff) -%}
<table class="diff"><tr><th>change</th><th>column</th><th>detail</th></tr>
{% for c in diff %}<tr><td>{{ c.kind }}</td><td><code>{{ c.column }}</code></td>
<td>{% for k, v in c.items() if k not in ('kind', 'column') %}{{ k }}: <code>{{ v }}</code>{% if not loop.last %}; {% endif %}{% endfor %}</td></tr>
{% endfor %}</table>
{%- endmacro %}"""  # noqa: E501

PENDING = """{% extends "layout" %}{% from "diff" import diff_table %}{% block body %}
{% if not user %}<p class="muted"><a href="/login">Log in</a> as an approver to decide.</p>{% endif %}
{% for item in holds %}{% set c = item.check %}<section class="card hold" id="hold-{{ c.id }}">
<h2>{{ c.pipeline }} · {{ c.partition }} · contract {{ c.contract }}@{{ c.contract_version }}</h2>
<p><strong>{{ c.classification }}</strong> drift: {{ item.event.detail }} — waiting since {{ item.event.recorded_at.strftime('%Y-%m-%d %H:%M:%S') }} UTC
{% if c.flow_run_id %} · <a href="{{ ui }}/runs/flow-run/{{ c.flow_run_id }}">Prefect run</a>{% endif %}
· <a href="/evidence/{{ c.token | urlencode }}">evidence</a></p>
{{ diff_table(c.diff) }}
{% if item.decisions %}<p>Decisions so far:</p><ul>{% for d in item.decisions %}
<li>{{ d.decision }} by {{ d.approver }}: <span class="{{ 'ok' if d.accepted else 'bad' }}">{{ 'accepted' if d.accepted else 'refused' }}</span> {{ d.verdict }}</li>{% endfor %}</ul>{% endif %}
{% if user %}<form method="post" action="/pending/{{ c.id }}/decide" class="decide">
<input type="hidden" name="csrf" value="{{ user.csrf }}">
<label>Reason <input type="text" name="reason" maxlength="500"></label>
<button type="submit" name="decision" value="approve" class="approve">Approve as {{ user.name }}</button>
<button type="submit" name="decision" value="reject" class="reject">Reject</button>
</form>{% endif %}
</section>{% else %}<p>Nothing waits for governance.</p>{% endfor %}
{% endblock %}"""  # noqa: E501

VERDICT = """{% extends "layout" %}{% block body %}
<div class="verdict {{ 'ok' if ok else 'bad' }}" id="verdict">{{ message }}</div>
<p><a href="/pending">Back to pending approvals</a>{% if token %} · <a href="/evidence/{{ token | urlencode }}">evidence of this run</a>{% endif %}</p>
{% endblock %}"""  # noqa: E501

LOGIN = """{% extends "layout" %}{% block body %}
{% if error %}<p class="bad" id="login-error">{{ error }}</p>{% endif %}
<form method="post" action="/login" class="card">
<input type="hidden" name="next" value="{{ next if next is defined else '/pending' }}">
<p><label>Approver name<br><input type="text" name="name" autocomplete="username" required></label></p>
<p><label>Login token<br><input type="password" name="token" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in</button></p>
<p class="muted">Get a token with <code>barecount console token NAME</code>.</p>
</form>{% endblock %}"""  # noqa: E501

EVIDENCE = """{% extends "layout" %}{% from "diff" import diff_table %}{% block body %}
{% set t = ev.token %}
<p>Run token <code>{{ t.token }}</code></p>
<h2>Published KPI values</h2>
{% if t.publications %}<table><tr><th>KPI</th><th>partition</th><th>value</th><th>stage</th><th>output fingerprint</th><th>ledger row</th></tr>
{% for p in t.publications %}<tr><td>{{ p.kpi }}</td><td>{{ p.partition }}</td><td>{{ p.value }}</td><td>{{ p.stage }}</td><td><code>{{ p.output_fingerprint[:23] }}</code></td><td>#{{ p.id }} <code>{{ p.hash[:19] }}</code></td></tr>{% endfor %}</table>
{% else %}<p class="muted">nothing published under this token</p>{% endif %}
<h2>Versions of this partition's KPIs</h2>
{% if ev.versions %}<table><tr><th>version</th><th>KPI</th><th>token</th><th>supersedes</th><th>by</th><th>reason</th><th>in force</th></tr>
{% set top = ev.versions | map(attribute="version") | max %}{% for v in ev.versions %}<tr><td>{{ v.version }}</td><td>{{ v.kpi }}</td><td><a href="/evidence/{{ v.token | urlencode }}"><code>{{ v.token }}</code></a></td><td>{{ v.supersedes or "" }}</td><td>{{ v.requested_by or "" }}</td><td>{{ v.reason }}</td><td>{{ "yes" if v.version == top else "" }}</td></tr>{% endfor %}</table>
{% else %}<p>none</p>{% endif %}
<h2>Runs under the token</h2>
<table><tr><th>run</th><th>pipeline</th><th>partition</th><th>trigger</th><th>outcome</th><th>Prefect</th></tr>
{% for r in t.runs %}<tr><td>#{{ r.id }}</td><td>{{ r.pipeline }}</td><td>{{ r.partition }}</td><td>{{ r.trigger }}</td>
<td>{% for s in t.summaries if s.run_id == r.id %}<span class="status-{{ s.status }}">{{ s.status }}</span> {{ s.detail }}{% endfor %}</td>
<td>{% if r.flow_run_id %}<a class="prefect-link" href="{{ ui }}/runs/flow-run/{{ r.flow_run_id }}">{{ r.flow_run_id }}</a>{% endif %}</td></tr>{% endfor %}</table>
<h2>Stage attempts</h2>
<table><tr><th>stage</th><th>attempt</th><th>state</th><th>started (UTC)</th><th>rows</th><th>output fingerprint</th><th>error</th><th>task run</th></tr>
{% for a in t.attempts %}<tr><td>{{ a.stage }}</td><td>{{ a.attempt }}</td><td class="status-{{ a.state }}">{{ a.state }}</td>
<td>{{ a.started_at.strftime('%Y-%m-%d %H:%M:%S') }}</td><td>{{ a.rows if a.rows is not none else '' }}</td>
<td><code>{{ (a.output_fingerprint or '')[:23] }}</code></td><td>{{ a.error_class or '' }} {{ a.error_message or '' }}</td><td><code>{{ a.task_run_id or '' }}</code></td></tr>{% endfor %}</table>
<h2>Contract versions</h2>
<table><tr><th>contract</th><th>version</th><th>source</th><th>approved by</th><th>schema fingerprint</th></tr>
{% for c in ev.contracts %}<tr><td>{{ c.contract }}</td><td>{{ c.version }}</td><td>{{ c.source }}</td><td>{{ c.approved_by or '' }}</td><td><code>{{ c.fingerprint[:23] }}</code></td></tr>{% endfor %}</table>
<h2>Gate checks and approvals</h2>
{% for item in ev.checks %}{% set c = item.check %}<div class="card">
<p>{{ c.stage }} against {{ c.contract }}@{{ c.contract_version }}: <strong>{{ c.outcome }}</strong> ({{ c.classification }}){% if item.status %}, hold {{ item.status }}{% endif %}</p>
{% if c.diff %}{{ diff_table(c.diff) }}{% endif %}
{% if item.decisions %}<table class="decisions"><tr><th>decision</th><th>approver</th><th>signed</th><th>accepted</th><th>verdict</th><th>reason</th><th>new version</th></tr>
{% for d in item.decisions %}<tr><td>{{ d.decision }}</td><td>{{ d.approver }}</td><td>{{ 'yes' if d.signed else 'no' }}</td><td class="{{ 'ok' if d.accepted else 'bad' }}">{{ 'yes' if d.accepted else 'no' }}</td><td>{{ d.verdict }}</td><td>{{ d.reason }}</td><td>{{ d.new_version or '' }}</td></tr>{% endfor %}</table>{% endif %}
</div>{% else %}<p class="muted">no gate check under this token</p>{% endfor %}
{% endblock %}"""  # noqa: E501

BACKFILLS = """{% extends "layout" %}{% block body %}
{% if backfills %}<table><tr><th>#</th><th>pipeline</th><th>range</th><th>mode</th><th>requested by</th><th>partitions</th><th>done</th><th>outcomes</th><th>state</th><th>Prefect</th></tr>
{% for v in backfills %}{% set b = v.backfill %}<tr class="backfill"><td>{{ b.id }}</td><td>{{ b.pipeline }}</td><td>{{ b.start }} to {{ b.end }}</td><td>{{ b.mode }}</td><td>{{ b.requested_by }}</td>
<td>{{ v.planned }} ({{ v.to_run }} to run)</td><td>{{ v.done }} / {{ v.planned }}</td>
<td>{% for outcome, n in v.outcomes | dictsort %}{{ outcome }}: {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}</td>
<td class="{{ 'ok' if v.end else 'bad' }}">{{ v.state }}{% if v.state == 'unfinished' %} (running or interrupted){% endif %}</td>
<td>{% if b.flow_run_id %}<a href="{{ ui }}/runs/flow-run/{{ b.flow_run_id }}">Prefect run</a>{% endif %}</td></tr>{% endfor %}</table>
{% else %}<p>No backfill in the ledger.</p>{% endif %}
{% endblock %}"""  # noqa: E501

ERROR = """{% extends "layout" %}{% block body %}
<p class="bad" id="error">{{ message }}</p>
{% if problems is defined and problems %}<ul class="problems">{% for p in problems %}<li><code>{{ p }}</code></li>{% endfor %}</ul>{% endif %}
{% endblock %}"""  # noqa: E501


@lru_cache(maxsize=1)
def environment() -> Environment:
    templates = {
        "layout": LAYOUT,
        "run_row": RUN_ROW,
        "diff": DIFF,
        "pipelines": PIPELINES,
        "pipeline": PIPELINE,
        "pending": PENDING,
        "verdict": VERDICT,
        "login": LOGIN,
        "evidence": EVIDENCE,
        "backfills": BACKFILLS,
        "error": ERROR,
    }
    return Environment(loader=DictLoader(templates), autoescape=True, undefined=StrictUndefined)


def render(name: str, **context: object) -> str:
    context.setdefault("user", None)
    return environment().get_template(name).render(**context)
