"""Command-line front ends: one module per subcommand, all thin users of the library."""
