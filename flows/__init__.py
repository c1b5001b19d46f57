"""flows package: the Prefect flows. Importing it first forces Prefect's quiet settings (no telemetry) and one
malloc arena for a flow run a worker started (`models.malloc_arenas`; a no-op when already set)."""

from models.malloc_arenas import one_arena
from models.prefect_env import quiet_prefect

one_arena()
quiet_prefect()
