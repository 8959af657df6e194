"""Access control: API keys, dashboard users and sessions.

The workspaces a server serves and their key index moved to :class:`cxlens.web.hub.WorkspaceHub`.
"""

from cxlens.access.keys import ApiKey, create_key, find_key, list_keys, revoke_key
from cxlens.access.sessions import LoginThrottle, Session, create_session, delete_session, get_session
from cxlens.access.users import (
    ROLES,
    User,
    authenticate,
    create_user,
    disable_user,
    get_user,
    list_users,
    set_password,
    set_role,
)

__all__ = [
    "ROLES",
    "ApiKey",
    "LoginThrottle",
    "Session",
    "User",
    "authenticate",
    "create_key",
    "create_session",
    "create_user",
    "delete_session",
    "disable_user",
    "find_key",
    "get_session",
    "get_user",
    "list_keys",
    "list_users",
    "revoke_key",
    "set_password",
    "set_role",
]
