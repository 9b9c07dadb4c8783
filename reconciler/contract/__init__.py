"""Amazon's listing contract, shared by the catalog and the emulator so "valid here" means
"valid there" (design.md §9): the product type definition meta-schema vocabulary on top of
jsonschema, the cached definition files, the issues they give, attribute shapes and identifier
checks. Imports only the kernel."""
