"""`reconciler import`: live listings -> catalog YAML, for onboarding (``build``: the files;
``shapes``: one live listing as catalog values). Reads like live, writes the catalog."""
