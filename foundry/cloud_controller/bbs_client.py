"""The BBS client as the Cloud Controller uses it: BBS failures become CC errors.

The calls themselves are `foundry.bbs.client`'s, the one BBS client; only the mapping
to the v2 API's `RunnerError` / `RunnerUnavailable` lives here.
"""

from __future__ import annotations

from typing import Any

from foundry.bbs.client import BBSClient, BBSError, BBSUnavailable
from foundry.cloud_controller.errors import CCError


class CCBBSClient(BBSClient):
    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        try:
            return super().call(method, path, body, **kw)
        except BBSError as e:
            raise CCError("RunnerError",
                          f"BBS {method} {path}: {e.status} {e.message}".strip()) from e
        except BBSUnavailable as e:
            raise CCError("RunnerUnavailable", str(e)) from e

    def retire(self, process_guid: str, index: int) -> None:
        """bbs RetireActualLRP: the cell stops the instance, the index is placed again."""
        self.call("POST", "/v1/actual_lrps/retire", {"process_guid": process_guid,
                                                     "index": index})
