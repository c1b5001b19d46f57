"""Every deployment of dsr-orchestrator, defined in one place (`build_deployments`), and how to serve them.

Parameters are ids and policy names only; schedules come from the configuration (cron).
"""
