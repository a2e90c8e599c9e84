"""The live view (--web): a page in the browser that shows a run as it paints and can stop it.

state.py holds what the page shows, fed by the run as one of its watchers (nst/watching.py);
server.py serves the page, its assets, the run folder's images and the stream of updates
(server-sent events) with Python's standard library, and answers Stop; static/ holds the
page (one HTML, one JavaScript and one CSS file, no build step, nothing from elsewhere).
Nothing here imports the runners: the runner makes the state and the server and hands them
what they show (nst/run/image_job.py).
"""
