"""The webhook domain: matching, retries, where a webhook may go, who may manage one."""
