"""`python -m bench`: run the benchmark sections, print a table, update latest.json."""

from bench.cli import main

raise SystemExit(main())
