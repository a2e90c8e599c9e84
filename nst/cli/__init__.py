"""The command line: its options (defined once), their parsing and checks, and how the
program names itself in hints."""
