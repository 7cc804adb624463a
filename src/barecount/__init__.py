"""BareCount: governed orchestration of data pipelines on Prefect 3.

Stage authors import everything they need from here::

    from barecount import StageContext, StageResult, TransientError, TerminalError
"""

from barecount.errors import BareCountError, TerminalError, TransientError
from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.runtime.stage import (
    SourceFile,
    StageContext,
    StageResult,
    fingerprint_file,
    fingerprint_query,
    fingerprint_rows,
)

__all__ = [
    "BareCountError",
    "ExtractedSchema",
    "SchemaColumn",
    "SourceFile",
    "StageContext",
    "StageResult",
    "TerminalError",
    "TransientError",
    "fingerprint_file",
    "fingerprint_query",
    "fingerprint_rows",
]
