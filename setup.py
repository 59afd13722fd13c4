#!/usr/bin/env python
"""meshca: an Azure CLI extension that diagnoses and fixes the AKS Istio add-on's plug-in CA."""

from setuptools import find_packages, setup

# 1.0.0b1: the azure-cli-extensions index guidelines start a new preview extension there.
VERSION = '1.0.0b1'

CLASSIFIERS = [
    'Development Status :: 4 - Beta',
    'Intended Audience :: Developers',
    'Intended Audience :: System Administrators',
    'Programming Language :: Python :: 3',
    'License :: OSI Approved :: MIT License',
]

# azure-cli already bundles azure-mgmt-containerservice, azure-mgmt-keyvault,
# azure-mgmt-authorization, azure-keyvault-secrets and cryptography: they are used,
# never pinned again here. kubernetes is not bundled: pinned to the client generation the
# tests run against (scripts/setup's wheelhouse downloads from this list).
DEPENDENCIES = ['kubernetes>=37.0.2,<38']
# scan queries Azure Resource Graph; azure-cli does not bundle its SDK.
DEPENDENCIES.append('azure-mgmt-resourcegraph>=8.0.1')

with open('README.md', 'r', encoding='utf-8') as f:
    README = f.read()
with open('HISTORY.rst', 'r', encoding='utf-8') as f:
    HISTORY = f.read()

setup(
    name='meshca',
    version=VERSION,
    description=('Diagnose and fix the plug-in CA of the AKS Istio add-on: the four Key Vault secrets, '
                 "the add-on identity's access to them, and what istiod mounted."),
    long_description=README + '\n\n' + HISTORY,
    long_description_content_type='text/markdown',
    license='MIT',
    author='meshca maintainers',
    url='https://github.com/Azure/azure-cli-extensions/tree/main/src/meshca',
    classifiers=CLASSIFIERS,
    packages=find_packages(include=['azext_meshca', 'azext_meshca.*']),
    install_requires=DEPENDENCIES,
    package_data={'azext_meshca': ['azext_metadata.json', 'data/*.md']},
)
