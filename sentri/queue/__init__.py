"""The database is the queue: any Sentri process serving it may start, claim, record, end and recover runs.

lifecycle.py  a run's life: every planned test a row, its end taken once and finished with its verdict
claims.py     tests in the hands of workers: claimed, leased, recorded, given back, recovered
crawls.py     a crawl's life, claimed and leased like a test
recovery.py   what every process does every few seconds for the processes that died or stalled
notices.py    telling idle processes that work may be claimable (PostgreSQL LISTEN/NOTIFY)
spread.py     spreading a run over the processes that have room
outcome.py    what a worker hands the queue when it is done with a test
"""
