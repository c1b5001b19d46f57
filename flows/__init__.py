"""flows package: the Prefect flows. Importing it first forces Prefect's quiet settings (no telemetry)."""

from models.prefect_env import quiet_prefect

quiet_prefect()
