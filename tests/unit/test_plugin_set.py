"""One input shape: every source returns the same plug-in set, with ca-key already
reduced to key facts, and one pipeline judges it; the remedies fit the source."""

import datetime

from azext_meshca.model import plugin_set as shape
from azext_meshca.rules import plugin_set

from azext_meshca.sources import files
from azext_meshca.model.keyfacts import key_facts
from sandbox import certfactory

NOW = datetime.datetime.now(datetime.timezone.utc)


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
    files = shape.new_set(shape.FILES, {"kind": "files"}, facts, where)
    vault = shape.new_set(shape.KEY_VAULT, {"kind": "keyVault"}, facts, where)
    (from_files, _), (from_vault, _) = plugin_set.validate(files, NOW, 30), plugin_set.validate(vault, NOW, 30)
    assert [item["code"] for item in from_files] == [item["code"] for item in from_vault]
    [missing_file] = [item for item in from_files if item["code"] == "MCA601"]
    [missing_secret] = [item for item in from_vault if item["code"] == "MCA601"]
    assert "keyvault" not in missing_file["remedy"] and "cert-chain.pem" in missing_file["remedy"]
    assert "az keyvault secret set" in missing_secret["remedy"]


def test_an_object_the_source_already_accounts_for_is_not_called_missing():
    objects = certfactory.make_plugin_set()
    facts = dict(objects, **{"ca-key": key_facts(objects["ca-key"]), "cert-chain": None})
    found = shape.new_set(shape.KEY_VAULT, {"kind": "keyVault"}, facts, {}, unread=["cert-chain"])
    findings, _ = plugin_set.validate(found, NOW, 30)
    assert "MCA601" not in [item["code"] for item in findings]
