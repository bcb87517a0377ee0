"""Client for the event collector (POST /api/v1/collect)."""
from .client import Collector, Rejection, RetryInfo
from .retry import backoff_seconds, retry_after_seconds, verdict_of

__all__ = ["Collector", "Rejection", "RetryInfo", "backoff_seconds", "retry_after_seconds", "verdict_of"]
