"""The igengine HTTP service and frontline page (an edge over the library).

`create_app(Settings(policies=Path("policies"), keys_file=Path("keys.toml")))` builds the
FastAPI app; `igengine serve` runs it under uvicorn.
"""

from service.app import create_app, create_app_from_env
from service.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app", "create_app_from_env"]
