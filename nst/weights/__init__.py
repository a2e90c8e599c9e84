"""The VGG weights: their file formats, where they are found, downloading and checking
them, reading any file without letting a damaged one crash the program, and the weights
jobs (--check-weights, --download-weights)."""
