"""``dstats``: the top-like terminal view over one host or a fleet (Textual).

Layers, dependencies pointing down: ``cli`` (the ``dstats`` console script) ->
``app`` and its screens/widgets (Textual, no I/O of their own) -> ``fleet`` (the data:
one feed per agent, or the collectors in-process) -> ``view`` (the pure types both
sides share).
"""
