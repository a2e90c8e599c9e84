"""The command line: its options (defined once), and their parsing into a checked job."""
