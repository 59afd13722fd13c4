"""One input shape: every source returns the same plug-in set, with ca-key already
reduced to key facts, and the one runner judges it; the remedies fit the source."""

from azext_meshca.model import plugin_set as shape
from azext_meshca.rules.registry import CA_SET
from azext_meshca.rules.runner import run_rules

from azext_meshca.sources import certsets, files
from azext_meshca.model.keyfacts import key_facts
from sandbox import certfactory


def _validate(found):
    return run_rules(certsets.set_snapshot(found, 30), select=(CA_SET,)).findings


def test_files_source_reduces_the_key_to_key_facts(tmp_path):
    objects = certfactory.make_plugin_set()
    certfactory.write_cert_dir(str(tmp_path), objects)
    found = files.read_cert_dir(str(tmp_path))
    assert found["kind"] == shape.FILES
    key = found["objects"]["ca-key"]
    assert isinstance(key, dict) and key == key_facts(objects["ca-key"])
    assert "PRIVATE" not in repr(found)
    assert all(isinstance(found["objects"][obj], bytes) for obj in ("root-cert", "ca-cert", "cert-chain"))


def test_files_and_key_vault_sets_give_the_same_verdict_with_remedies_that_fit():
    objects = certfactory.make_plugin_set()
    facts = dict(objects, **{"ca-key": key_facts(objects["ca-key"]), "cert-chain": None})
    where = {obj: obj for obj in facts}
    files_set = shape.new_set(shape.FILES, {"kind": "files"}, facts, where)
    vault = shape.new_set(shape.KEY_VAULT, {"kind": "keyVault"}, facts, where)
    from_files, from_vault = _validate(files_set), _validate(vault)
    assert [item["code"] for item in from_files] == [item["code"] for item in from_vault]
    [missing_file] = [item for item in from_files if item["code"] == "MCA601"]
    [missing_secret] = [item for item in from_vault if item["code"] == "MCA601"]
    assert "keyvault" not in missing_file["remedy"] and "cert-chain.pem" in missing_file["remedy"]
    assert "az keyvault secret set" in missing_secret["remedy"]


def test_an_object_the_source_already_accounts_for_is_not_called_missing():
    objects = certfactory.make_plugin_set()
    facts = dict(objects, **{"ca-key": key_facts(objects["ca-key"]), "cert-chain": None})
    found = shape.new_set(shape.KEY_VAULT, {"kind": "keyVault"}, facts, {}, unread=["cert-chain"])
    assert "MCA601" not in [item["code"] for item in _validate(found)]


def test_validate_secrets_links_symptoms_to_causes_as_diagnose_does():
    """The runner links every command's findings: the agent's refusal of istiod's serving chain
    (MCA736) is explained by cert-chain not starting with ca-cert (MCA711), as in diagnose."""
    objects = certfactory.make_plugin_set(chain_not_starting_with_ca_cert=True)
    found = shape.new_set(shape.FILES, {"kind": "files"}, dict(objects, **{"ca-key": key_facts(objects["ca-key"])}),
                          {obj: obj for obj in objects})
    by_code = {item["code"]: item for item in _validate(found)}
    assert by_code["MCA736"]["explainedBy"] == ["MCA711"] and by_code["MCA711"]["explains"] == ["MCA736"]
