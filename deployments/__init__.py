"""Every deployment of dsr-orchestrator, defined in one place (`build_deployments`), and how to serve them.

Parameters are ids and policy names only; schedules come from the configuration (cron).
"""

from models.prefect_env import quiet_prefect

quiet_prefect()  # before Prefect is imported: no telemetry from the serve process or temporary servers
