"""The VGG weights: their file formats, where they are found, downloading and checking
them, and reading any file without letting a damaged one crash the program."""
