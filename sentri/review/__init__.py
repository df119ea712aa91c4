"""What waits for a person: draft tests, new or changed screenshot baselines, and proposals to heal a
test's locator; recorded from runs, decided in one review queue (API, pages, CLI)."""
