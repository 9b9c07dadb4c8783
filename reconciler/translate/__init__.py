"""Machine translation drafts for the catalog (``reconciler translate``).

The machine drafts, the draft lands in the pull request, a person approves it there. Engines
(:mod:`reconciler.translate.engine`) do the I/O; what a draft must pass (the gates) and how its
status is read are pure and live in the catalog stage.
"""
