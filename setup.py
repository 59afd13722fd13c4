#!/usr/bin/env python
"""meshca: an Azure CLI extension that diagnoses and fixes the AKS Istio add-on's plug-in CA."""

from setuptools import find_packages, setup

VERSION = '0.1.0b1'

CLASSIFIERS = [
    'Development Status :: 4 - Beta',
    'Intended Audience :: Developers',
    'Intended Audience :: System Administrators',
    'Programming Language :: Python :: 3',
    'License :: OSI Approved :: MIT License',
]

# azure-cli already bundles azure-mgmt-containerservice, azure-mgmt-keyvault,
# azure-mgmt-authorization, azure-keyvault-secrets and cryptography: they are used,
# never pinned again here. kubernetes is not bundled.
DEPENDENCIES = ['kubernetes>=29.0.0']

with open('README.md', 'r', encoding='utf-8') as f:
    README = f.read()
with open('HISTORY.rst', 'r', encoding='utf-8') as f:
    HISTORY = f.read()

setup(
    name='meshca',
    version=VERSION,
    description='Diagnose and fix the AKS Istio add-on plug-in CA: az aks mesh ca',
    long_description=README + '\n\n' + HISTORY,
    long_description_content_type='text/markdown',
    license='MIT',
    author='meshca maintainers',
    url='https://example.invalid/meshca',
    classifiers=CLASSIFIERS,
    packages=find_packages(include=['azext_meshca', 'azext_meshca.*']),
    install_requires=DEPENDENCIES,
    package_data={'azext_meshca': ['azext_metadata.json']},
)
