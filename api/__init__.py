"""The GraphQL API, the analyst page and the command line."""
