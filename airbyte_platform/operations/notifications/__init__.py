"""Run notifications: email over SMTP, Slack, a JSON webhook, sent by Dagster run-status sensors."""
