"""Access control: API keys, dashboard users and sessions, and the workspaces a server serves."""

from cxlens.access.hub import WorkspaceHub
from cxlens.access.keys import ApiKey, create_key, find_key, list_keys, revoke_key

__all__ = ["ApiKey", "WorkspaceHub", "create_key", "find_key", "list_keys", "revoke_key"]
