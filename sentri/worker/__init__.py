"""The run engine: browser discovery and launch (browsers.py); the thread pool arrives with runs."""
