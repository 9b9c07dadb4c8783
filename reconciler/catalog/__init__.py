"""Stage 1, the catalog: YAML with file:line provenance -> schema checks -> settings, formulas,
pricing, texts, allocation, fulfillment -> desired listings. Pure: it reads the catalog's files
and nothing else, and never talks to Amazon, a database or the clock."""
