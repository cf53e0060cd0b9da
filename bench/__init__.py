"""
Benchmarks of the real stack: PostgreSQL, Redis and the ASGI app under daphne.

They are not tests: `make bench` (or `python -m bench`) runs every benchmark,
`python -m bench.listings` one of them. See bench/README.md.
"""
