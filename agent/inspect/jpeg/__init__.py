"""The JPEG family: segment walk, benign-trailer accounting, vendor footers.

One direction of use, top to bottom: `walk` (the walker the engine calls) -> `trailers`
(MPF, motion photo, gaps) -> `footers` and `samsung` (vendor blocks from EOF backwards) ->
`claims` (what has been accounted) -> `segments` (the marker walk) -> `markers`
(signatures). May import only `agent.inspect` modules outside this package and the
shared bottom (`agent.model`, `agent.errors`, `agent.textsafe`).
"""
