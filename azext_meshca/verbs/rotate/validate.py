"""Argument errors, judged before any request (exit 2 through _validators.usage_error)."""

import os

from azure.cli.core.azclierror import InvalidArgumentValueError


def validate(opts):
    from azext_meshca._validators import usage_error
    if opts.timeout is not None and opts.timeout <= 0:
        usage_error(InvalidArgumentValueError("--timeout must be a positive number of seconds."))
    if opts.command in ("plan", "advance") and not opts.new_dir:
        usage_error(InvalidArgumentValueError("--new-dir is required: the folder Istio's tools/certs made "
                                              "(root-cert.pem, ca-cert.pem, ca-key.pem, cert-chain.pem)."))
    if opts.new_dir and not os.path.isdir(opts.new_dir):
        usage_error(InvalidArgumentValueError(f"--new-dir {opts.new_dir} is not a folder."))
    if opts.command == "advance" and not opts.plan_file:
        usage_error(InvalidArgumentValueError("--plan-file is required: the file az aks mesh ca rotate plan wrote."))
