"""``az aks mesh ca rotate plan|advance|status``: guided plug-in CA rotation (issue #24).

Shaped like cmctl's commands: ``options.py`` (what was asked), ``validate.py`` (argument
errors, before any request), ``run.py`` (the run: its reads and Key Vault writes go
through sources/rotation.py, which builds the snapshot's ``rotation`` slot; it writes the
plan file). Every judgement is pure and lives in the rules layer (azext_meshca/rules/checks/
rotate.py: the plan, the stage machine, the gates and the refusals, registered in the one
registry as MCA340-MCA359), so a refusal prints in diagnose's shape.
docs/rotation.md explains the stages and why they are ordered as they are.
"""
