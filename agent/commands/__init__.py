"""The `photogate` command: argument parsing (`cli`) and one module per subcommand.

Each subcommand module exposes `register(subparsers)` and is imported only when its
command runs. The top layer: may import every other package of `agent`.
"""
