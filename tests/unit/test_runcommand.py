"""The run-command output parser and replay (azext_meshca/sources/runcommand.py): what
the script prints is read back into answers for cluster._get, and anything truncated,
garbled or missing becomes a collection error for that read, never an exception."""
# pylint: disable=protected-access

import json
import subprocess

import pytest

from azext_meshca.sources import cluster as kube
from azext_meshca.sources import runcommand as rc
from azext_meshca.sources.errors import describe_error

NONCE = "0123456789abcdef"
PODS = "/api/v1/namespaces/aks-istio-system/pods"


def section(key, body, rc_=0, source_bytes=None, cut=0, stderr=""):
    size = len(body.encode("utf-8")) if source_bytes is None else source_bytes
    return (f"@@{NONCE} begin {key} rc={rc_} bytes={size} cut={cut}\n@@{NONCE} stderr {stderr}\n"
            f"{body}\n@@{NONCE} end\n")


def done():
    return f"@@{NONCE} done sections=1 bytes=1\n"


def replay(*parts):
    return rc.ReplayApi(rc.parse_output("".join(parts), NONCE))


def test_sections_round_trip_bodies_exactly():
    body = 'line one\n@@ffff begin /x rc=0 bytes=1 cut=0\n\n  trailing  '
    output = rc.parse_output(section("/version", body) + done(), NONCE)
    assert output.complete and not output.garbled
    assert output.sections["/version"].body == body


def test_json_answer_is_what_get_returns():
    api = replay(section("/version", '{"gitVersion": "v1.30.6"}'), done())
    assert kube._get(api, "/version") == {"gitVersion": "v1.30.6"}


def test_query_order_does_not_matter():
    key = rc.request_key(PODS, [("limit", 500), ("labelSelector", "app=istiod")])
    api = replay(section(key, '{"items": [], "metadata": {}}'), done())
    assert kube._get(api, PODS, {"labelSelector": "app=istiod", "limit": 500}) == {
        "items": [], "metadata": {}}


def test_truncated_output_drops_the_cut_section_and_says_so():
    text = section("/version", "{}") + section(PODS, '{"items": []}')[:40]
    output = rc.parse_output(text, NONCE)
    assert not output.complete and set(output.sections) == {"/version"}
    item = kube._guarded(lambda: kube._get(rc.ReplayApi(output), PODS))
    assert not item["ok"]
    assert item["error"]["code"] == rc.OUTPUT_CODE
    assert "ended before" in item["error"]["reason"]


def test_a_get_the_script_never_made_is_a_collection_error():
    item = kube._guarded(lambda: kube._get(replay(done()), "/apis/other"))
    assert item["error"]["code"] == rc.OUTPUT_CODE and "did not read it" in item["error"]["reason"]


@pytest.mark.parametrize("garbage", [
    "", "no framing at all\n", f"@@{NONCE} begin /version rc=x bytes=1 cut=0\n", "\x00\xff" * 50,
    f"@@{NONCE} begin /version rc=0 bytes=1 cut=0\nnot a stderr line\nbody\n@@{NONCE} end\n",
    f"@@{NONCE} begin /version rc=0 bytes=1 cut=0\n@@{NONCE} stderr \n{{\"half",
])
def test_garbled_output_never_raises(garbage):
    output = rc.parse_output(garbage, NONCE)
    item = kube._guarded(lambda: kube._get(rc.ReplayApi(output), "/version"))
    assert not item["ok"] and item["error"]["code"] in (rc.OUTPUT_CODE, "MalformedResponse", None)


def test_not_a_string_is_an_empty_output():
    assert rc.parse_output(None, NONCE).sections == {}


def test_another_runs_nonce_is_not_read():
    text = section("/version", "{}").replace(NONCE, "feedfacefeedface")
    assert rc.parse_output(text, NONCE).sections == {}


def test_kubectl_not_found_is_a_404_the_collectors_read_as_absent():
    key = "/api/v1/namespaces/aks-istio-system/secrets/cacerts"
    api = replay(section(key, "", rc_=1, stderr='Error from server (NotFound): secrets "cacerts" not found'), done())
    assert kube.read_cacerts(api) is None


def test_kubectl_forbidden_is_a_403_with_its_message():
    api = replay(section("/version", "", rc_=1, stderr="Error from server (Forbidden): nope"), done())
    with pytest.raises(Exception) as raised:
        kube._get(api, "/version")
    error = describe_error(raised.value)
    assert error["status"] == 403 and "nope" in error["reason"]


def test_kubectl_without_a_server_answer_is_cannot_connect():
    api = replay(section("/version", "", rc_=1, stderr="Unable to connect to the server: dial tcp"), done())
    item = kube._guarded(lambda: kube._get(api, "/version"))
    assert item["error"]["code"] == "CannotConnect" and "dial tcp" in item["error"]["reason"]


def test_json_left_out_for_its_budget_says_how_big_it_was():
    api = replay(section(PODS, "", cut=700000, source_bytes=700000), done())
    item = kube._guarded(lambda: kube._get(api, PODS))
    assert "700000 bytes" in item["error"]["reason"] and "512 KB" in item["error"]["reason"]
    assert rc.parse_output(section(PODS, "", cut=700000) + done(), NONCE).cut_keys() == [PODS]


def test_full_filtered_head_asks_for_the_tail_as_the_direct_path_does():
    """The pod filters istiod's log to CA lines; its API size decides, as len() does directly."""
    path = f"{PODS}/istiod-1/log"
    head = rc.request_key(path, [("container", "discovery"), ("limitBytes", kube.ISTIOD_HEAD_BYTES)])
    tail = rc.request_key(path, [("container", "discovery"), ("limitBytes", kube.ISTIOD_LOG_BYTES),
                                 ("tailLines", kube.ISTIOD_LOG_LINES)])
    # a full head: the pod drops its (cut) last line and sends an empty one in its place
    full = replay(section(head, "plugged-in cert at a\n\n", source_bytes=kube.ISTIOD_HEAD_BYTES),
                  section(tail, "Use root cert from b"), done())
    lines = kube._head_and_tail_log(full, "istiod-1", "aks-istio-system", "discovery")
    assert lines == ["plugged-in cert at a", "Use root cert from b"]
    short = replay(section(head, "plugged-in cert at a", source_bytes=100), done())
    assert kube._head_and_tail_log(short, "istiod-1", "aks-istio-system", "discovery") == [
        "plugged-in cert at a"]


def test_root_configmaps_come_back_as_the_list_each_pem_sent_once():
    key = rc.request_key("/api/v1/configmaps", [("fieldSelector", "metadata.name=istio-ca-root-cert"),
                                                ("limit", kube.ROOT_CONFIGMAP_PAGE_SIZE)])
    body = 'P "pem-a\\n"\nN ns2\nN default\nP %!q(<nil>)\nN empty'
    listed = kube._get(replay(section("dedup:" + key, body), done()), "/api/v1/configmaps",
                       {"fieldSelector": "metadata.name=istio-ca-root-cert", "limit": kube.ROOT_CONFIGMAP_PAGE_SIZE})
    assert [(item["metadata"]["namespace"], item["data"]["root-cert.pem"]) for item in listed["items"]] == [
        ("default", "pem-a\n"), ("empty", ""), ("ns2", "pem-a\n")]


def test_script_is_valid_sh_and_never_sends_ca_key():
    script, nonce = rc.build_script(["asm-1-21", "asm-1-22"])
    assert nonce in script
    subprocess.run(["sh", "-n", "-c", script], check=True)
    # An allowlist, not a denylist: only the three certificates' values are printed at all.
    assert '{{if eq $k "root-cert.pem" "ca-cert.pem" "cert-chain.pem"}}{{$v}}|{{else}}|{{len $v}}{{end}}' in script
    assert 'ca-key.pem' not in script
    assert "secrets/cacerts" not in script.replace("'/api/v1/namespaces/aks-istio-system/secrets/cacerts'", "")


def test_withheld_entries_are_names_and_sizes():
    key = "/api/v1/namespaces/aks-istio-system/secrets/cacerts"
    body = '{"data":{"ca-cert.pem":"QQ==","tls.key":""},"withheld":{"tls.key":2236,"ca-key.pem":8}}'
    output = rc.parse_output(section(key, body) + done(), NONCE)
    assert rc.withheld_entries(output) == [{"key": "ca-key.pem", "bytes": 6}, {"key": "tls.key", "bytes": 1677}]
    assert rc.withheld_entries(rc.parse_output(done(), NONCE)) == []


def test_script_stays_under_the_cap_by_construction():
    assert rc.BODY_CAP + rc.MAX_SECTIONS * rc.SECTION_OVERHEAD <= rc.OUTPUT_CAP
    assert rc.SECTION_OVERHEAD > len(rc.request_key(PODS, [("labelSelector", "x" * 200)])) + 2 * rc.ERROR_CHARS


@pytest.mark.parametrize("scheduled", ["2026-03-01T00:07:00Z", "2024-02-29T23:59:00Z", "2000-01-01T00:00:00Z",
                                       "2026-12-31T09:08:00Z"])
def test_shell_job_name_matches_the_cronjob_controllers(scheduled):
    """The script's civil-date arithmetic gives getJobName's <cronjob>-<unix minutes>."""
    block = rc._cronjob_block("aks-istio-system", ["asm-1-21"])
    stubs = (f'T=$(mktemp -d); k() {{ case $2 in cronjob) echo {scheduled} ;; esac; }}\n'
             'get() { echo "$1"; }\n')
    printed = subprocess.run(["sh", "-c", stubs + block], capture_output=True, text=True, check=True).stdout
    expected = kube.last_job_name({"name": "istio-cert-validator-cronjob-asm-1-21", "lastScheduleTime": scheduled})
    assert f"job-name%3D{expected}&" in printed, printed


def test_configmap_body_is_json_the_normaliser_reads():
    body = rc._configmap_list("")
    assert json.loads(body) == {"items": [], "metadata": {}}


def test_worst_case_output_stays_under_aks_cap(tmp_path):
    """Every GET answers 58 KB and every list names ten pods on ten nodes: the script's
    budgets, its running total and its section limit keep the whole output under 512 KB,
    and say what was cut or left out."""
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\n"
                    "case \"$*\" in\n"
                    "  *--raw*) yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 900 ;;\n"
                    "  *cronjob*) echo 2026-03-01T00:07:00Z ;;\n"
                    "  *go-template*) i=0; while [ $i -lt 10 ]; do echo \"pod-$i|Running|node-$i\"; "
                    "i=$((i + 1)); done ;;\n"
                    "esac\n", encoding="utf-8")
    fake.chmod(0o755)
    script, nonce = rc.build_script(["asm-1-21", "asm-1-22", "asm-1-23"])
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    printed = subprocess.run(["sh", "-c", script], capture_output=True, env=env, check=True, timeout=120).stdout
    assert len(printed) <= rc.OUTPUT_CAP, len(printed)
    output = rc.parse_output(printed.decode("utf-8"), nonce)
    assert output.complete and output.cut_keys() and output.dropped
    assert sum(len(item.body.encode("utf-8")) for item in output.sections.values()) <= rc.BODY_CAP
    item = kube._guarded(lambda: kube._get(rc.ReplayApi(output), "/apis/never/asked"))
    assert "left out" in item["error"]["reason"]
    assert all(len(item.body.encode("utf-8")) <= 128 * 1024 for item in output.sections.values())


def test_pod_command_runs_the_script_verbatim_and_keeps_its_exit_status(tmp_path):
    script = "printf '%s|' \"$HOME\" '$(not run)' \"`echo q`\"\nexit 3\n"
    done_ = subprocess.run(["sh", "-c", rc.pod_command(script)], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "HOME": "h", "TMPDIR": str(tmp_path)}, check=False)
    assert (done_.returncode, done_.stdout) == (3, "h|$(not run)|q|")
    assert not list(tmp_path.iterdir()), "the script file is removed"
