"""How a run looks from outside: serialize.py (verdict, status and callback bodies, a result's API form,
the run page link), junit.py (the JUnit XML report) and stats.py (the statistics the pages chart)."""
