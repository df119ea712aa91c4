"""Alerts: notification channels (Slack, Teams, Discord, a JSON webhook, e-mail) told when a project's runs
fail or recover, through an outbox every process sends from.

models.py      channels and the delivery outbox
channels.py    channels over the API: targets checked, encrypted, masked
outbox.py      which channels hear of an end; claiming, sending and recording each delivery, with back-off
notifier.py    the threads that send
summary.py     what an alert says; formats.py how each service lays it out; deliver.py sends one
smtp.py        SENTRI_SMTP_URL and sending e-mail
"""
