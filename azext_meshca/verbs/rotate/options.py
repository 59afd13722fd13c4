"""What the operator asked ``rotate`` for, in one value the run passes around."""

from collections import namedtuple

DEFAULT_PLAN_FILE = "./meshca-rotation-plan.json"
DEFAULT_WAIT_SECONDS = 1800
POLL_SECONDS = 2

Options = namedtuple("Options", "command resource_group name plan_file new_dir yes dry_run wait timeout")


def options(command, resource_group, name, **given):
    """Options with the defaults filled in (``plan_file`` defaults for plan only: status and
    advance say when none was given)."""
    plan_file = given.get("plan_file")
    if plan_file is None and command == "plan":
        plan_file = DEFAULT_PLAN_FILE
    return Options(command, resource_group, name, plan_file, given.get("new_dir"), bool(given.get("yes")),
                   bool(given.get("dry_run")), bool(given.get("wait")), given.get("timeout"))
