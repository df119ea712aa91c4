"""Site scanning: the crawler, what it stores, and the drafts it makes."""
