"""One module per `photogate` subcommand; each exposes `register(subparsers)`."""
