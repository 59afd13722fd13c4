"""The rotation plan file's vocabulary (``az aks mesh ca rotate``, issue #24), shared by the
source that reads a plan file back (sources/rotation.py ``read_plan``) and the rules that
judge it (rules/checks/rotate.py): its format name, the two kinds and each kind's stages.

docs/rotation.md explains the stages and why they are ordered as they are.
"""

from azext_meshca.model.plugin import PLUGIN_OBJECTS

PLAN_FORMAT = "meshca-rotation-plan/1"
INTERMEDIATE, ROOT = "intermediate", "root"
STAGES = {INTERMEDIATE: ("I1",), ROOT: ("R1", "R2", "R3")}
# Every field the rules read from a plan, with its type (plan_shape_error).
PLAN_SHAPE = {"kind": str, "stages": list, "start": dict, "rotationId": str, "planHash": str, "newMaterial": dict,
              "revisions": list, "secretNames": dict, "oldRootFingerprints": list}


def plan_shape_error(plan):
    """Why a JSON value is not a plan rotate wrote, or None: every field the rules read has its
    type. An edited plan of the right shape is judged by the rules (its hash: MCA346)."""
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        return f"it is not a {PLAN_FORMAT} file"
    for key, kind in PLAN_SHAPE.items():
        if not isinstance(plan.get(key), kind):
            return f"its {key} is missing or not a {kind.__name__}"
    if plan["kind"] not in STAGES or [stage.get("name") if isinstance(stage, dict) else None
                                      for stage in plan["stages"]] != list(STAGES[plan["kind"]]):
        return "its kind and stages are not a rotation's"
    if not all(isinstance(value, (str, type(None))) for value in list(plan["start"].values()) + plan["revisions"]):
        return "its start versions or revisions are not text"
    if set(plan["secretNames"]) != set(PLUGIN_OBJECTS):
        return "its secretNames do not name the four plug-in objects"
    return None
