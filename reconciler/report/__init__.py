"""The monitoring report (`reconciler report`): what the runs did over time, in one file.

1. **Read** (``audit_log``, ``sources``): the audit logs apply writes, the orders KPI history
   and order state, the latest plan JSON, the live cache (Amazon's issues, quantities, prices,
   read marks) and the catalog (price guards, allocation, held texts). Every source is optional
   and read-only: a missing or broken one becomes a note in the report, never a crash.
2. **Aggregate** (``slo``, ``aggregate``): the three SLO figures against their targets with
   breaches per run, runs bucketed over the window (a year of 15-minute runs stays a few hundred
   points), listing health, price and stock, orders, freshness. Pure: the clock is a parameter.
3. **Render** (``charts``, ``page``, ``markdown``): one self-contained HTML file with the
   Vega-Lite charts and their JavaScript inlined (``assets``), or a short Markdown summary for
   ``$GITHUB_STEP_SUMMARY`` and the PR comment.

Only the CLI writes the output file.
"""
