"""The data (feeds, entries, people's subscriptions and reading states) and every write to it."""
