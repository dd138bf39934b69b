"""Command-line interface: one module per subcommand, listed in ``trtlab.cli.main.COMMANDS``."""
