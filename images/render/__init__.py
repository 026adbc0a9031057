"""The parts of the built-in procedural renderer (``images.providers.builtin``).

``palette`` reads the prompt into a :class:`~images.render.palette.Look`,
``scene`` paints a layered landscape from it, ``treatments`` gives each style
its finish, and ``noise`` holds the array helpers they share. Everything here is
pure NumPy and Pillow, seeded by the caller's ``numpy.random.Generator``.
"""
