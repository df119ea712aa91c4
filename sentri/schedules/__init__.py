"""Schedules: runs started by a cron expression in a time zone, fired exactly once across processes.

models.py      the schedule row
cron.py        cron expressions: checked, in words, their next times (cronsim, cron-descriptor, zoneinfo)
manage.py      schedules over the API, pages and CLI
firing.py      firing due schedules: the claim, the run, or the skip
"""
