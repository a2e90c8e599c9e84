"""One run of the command line: the loop that prints and saves, its folder, its progress
bars and the pictures it leaves."""
