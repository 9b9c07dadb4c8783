"""The Selling Partner API client (the only package that imports httpx, with the emulator transport)."""
