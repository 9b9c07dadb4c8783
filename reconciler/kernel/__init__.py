"""The kernel every stage may use: the listing model, the error tree, marketplaces, Amazon's
quotas, credential references, the clock and redaction. It imports nothing else of reconciler."""
