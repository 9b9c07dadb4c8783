"""reconciler: catalog-as-code for Amazon sellers.

The pipeline, one module per stage:

1. ``loader``   catalog/*.yaml -> raw catalog with file:line provenance (jsonschema-validated)
2. ``desired``  raw catalog -> desired listings (``pricing``, ``texts``, ``allocation``)
3. ``live``     SP-API payloads (``spapi``) -> live listings, normalized
4. ``diff``     desired x live -> field changes per selector (managed fields only)
5. ``plan``     changes -> an immutable Plan with checksum, fingerprint and safety checks
6. ``render``   Plan -> text | markdown | json
7. ``apply``    Plan -> patches / feeds under quota -> verify by read-back -> audit

Only ``cli`` prints or exits.
"""

__version__ = "0.1.0"
