"""Stage 3, the plan: managed projection and diff, the immutable Plan with its codec, checksum,
builder and safety checks, the write strategy, the patches apply will send, and the renders.
Pure: no HTTP, no database, no clock."""
