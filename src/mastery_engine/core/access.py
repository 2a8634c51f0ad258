"""Who may do what: the role matrix, in one place.

| action            | student        | teacher | service | admin |
| ----------------- | -------------- | ------- | ------- | ----- |
| read a student    | only their own | yes     | yes     | yes   |
| list / analytics  | -              | yes     | yes     | yes   |
| ingest events     | -              | -       | yes     | yes   |
| export a student  | only their own | -       | -       | yes   |
| erase a student   | -              | -       | -       | yes   |
| manage classes    | -              | -       | -       | yes   |
| configure, audit  | -              | -       | -       | yes   |

Everything is within the caller's tenant; nothing ever crosses tenants.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

from mastery_engine.core.errors import Forbidden

# The one tenant rule (tokens, X-Tenant-ID, Kafka headers, CloudEvents). Always `fullmatch`:
# with `match`, a `$` would also accept a tenant ending in a newline.
TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TENANT_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_tenant(value: object) -> TypeGuard[str]:
    """Whether `value` is a valid tenant id (see TENANT_RULE)."""
    return isinstance(value, str) and TENANT_PATTERN.fullmatch(value) is not None


class Role(StrEnum):
    """Roles a token can carry."""

    STUDENT = "student"
    TEACHER = "teacher"
    SERVICE = "service"
    ADMIN = "admin"


class Action(StrEnum):
    """Things a caller can ask for."""

    READ_STUDENT = "read a student's mastery"
    READ_CLASS = "list students and classes and read class and tenant analytics"
    MANAGE_CLASSES = "create, change or delete classes"
    INGEST = "ingest events"
    EXPORT = "export a student's data"
    ERASE = "erase a student"
    CONFIGURE = "read or change the tenant's configuration"
    AUDIT = "read the audit log"


# Actions each role may take on any student of its tenant.
GRANTS: dict[Role, frozenset[Action]] = {
    Role.STUDENT: frozenset(),
    Role.TEACHER: frozenset({Action.READ_STUDENT, Action.READ_CLASS}),
    Role.SERVICE: frozenset({Action.READ_STUDENT, Action.READ_CLASS, Action.INGEST}),
    Role.ADMIN: frozenset(Action),
}
# Actions a student may take on their own data only.
OWN_DATA = frozenset({Action.READ_STUDENT, Action.EXPORT})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who (`sub`), in which tenant, with which roles."""

    sub: str
    tenant: str
    roles: frozenset[Role]

    def may(self, action: Action, student_id: str | None = None) -> bool:
        """True when one of the caller's roles allows `action` (on `student_id`)."""
        if any(action in GRANTS[role] for role in self.roles):
            return True
        own = student_id is not None and student_id == self.sub
        return own and Role.STUDENT in self.roles and action in OWN_DATA

    def require(self, action: Action, student_id: str | None = None) -> None:
        """Raise `Forbidden` unless the caller may take `action`."""
        if self.may(action, student_id):
            return
        roles = ", ".join(sorted(self.roles)) or "no role"
        if Role.STUDENT in self.roles and action in OWN_DATA:
            raise Forbidden(f"a student may {action} only for themself (sub {self.sub!r})")
        allowed = sorted(r.value for r, actions in GRANTS.items() if action in actions)
        raise Forbidden(
            f"the caller's roles ({roles}) may not {action}; allowed roles: {', '.join(allowed)}"
        )


def roles_of(claim: object) -> frozenset[Role]:
    """The known roles of a `roles` claim (a list of strings); unknown names are ignored."""
    if not isinstance(claim, list) or not all(isinstance(r, str) for r in claim):
        raise ValueError("the roles claim must be a list of strings")
    known = {r.value: r for r in Role}
    return frozenset(known[r] for r in claim if r in known)
