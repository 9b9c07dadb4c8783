"""Stage 2, live state: reading Amazon (``reader``), turning its JSON into live listings
(``normalize``), the local cache of what was read, and ``import`` (live listings -> catalog)."""
