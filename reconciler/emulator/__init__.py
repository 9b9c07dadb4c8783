"""The SP-API emulator: a faithful local Amazon (design.md §7)."""
