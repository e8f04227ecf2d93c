"""The neutral core every layer may import: errors, the words for stored names, time and size
display, and page arithmetic. It imports nothing else of the dashboard (the import-linter contract
in .importlinter keeps it at the bottom)."""
