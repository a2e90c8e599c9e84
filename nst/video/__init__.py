"""Video, below the runner: clips read and written, optical flow, its certainty, and warping.

A clip is painted frame by frame; each later frame is kept close to the previous result
carried along the optical flow (Ruder, Dosovitskiy and Brox, "Artistic style transfer for
videos", 2016). These modules are NumPy, OpenCV and PyAV only: the temporal cost that the
painting adds is nst.costs.temporal_cost (and nst.tiled_costs.temporal_difference in tiles).
"""
