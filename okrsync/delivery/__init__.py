"""Where digests go besides email: chat channels through incoming webhooks (chat.py builds the
Slack, Microsoft Teams and Google Chat messages; webhook.py posts them)."""
