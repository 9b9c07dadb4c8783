"""The Selling Partner API client.

Only this package (and the emulator's in-process transport) imports httpx.
"""
