"""dsr package."""
