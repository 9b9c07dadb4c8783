"""Stage 4, apply: the only loops that write to Amazon (patches and feeds under quota), then
verify by read-back, the account lock, the audit log, KPIs and per-listing outcomes."""
