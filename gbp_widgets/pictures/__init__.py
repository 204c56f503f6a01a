"""Arrays to pictures and the words that go with them: NumPy, Pillow and matplotlib, no torch
and no widgets.

``render`` draws maps, masks and overlays as RGBA pictures; ``drawing`` the curves, bars,
boxes and label maps of other kinds of input and output; ``colour_keys`` says how to read
each picture's colours; ``figures`` lays pictures and keys out in a matplotlib figure.
Nothing is imported here, so ``import gbp_widgets`` loads no matplotlib.
"""
