// Package samtransform runs SAM's own translator (PyPI aws-sam-translator,
// the code behind AWS's hosted AWS::Serverless-2016-10-31 transform) for
// the local CloudFormation engine of `stackflow local`, so that a SAM
// template means locally exactly what it means on AWS: Globals, implicit
// APIs, policy templates, connectors, event sources, AutoPublishAlias and
// DeploymentPreference all come out as the plain CloudFormation resources
// AWS makes of them.
//
// # Installation
//
// On first use it installs aws-sam-translator Version and every package it
// needs, pinned exactly in python/requirements.txt with the SHA-256 of
// each wheel (pip install --require-hashes --only-binary=:all: --no-deps),
// into a virtual environment of its own (python3 -m venv) under
// Options.CacheDir, <os.UserCacheDir()>/stackflow/samtranslator by
// default, one per host Python, saying "stackflow: installing SAM's
// translator ... once". Processes that share the directory take turns
// through a lock file; an installation is made in a fresh directory that
// is renamed into place, so none sees half of one, and installations left
// by killed processes are removed after an hour. Without python3 (3.11 or
// later) or its venv module, the error says what to install.
//
// # The worker
//
// Translations run in one long-lived Python process (python/worker.py)
// that speaks JSON lines over stdin and stdout, each request with an id,
// so a change set pays no Python start-up (about a second). It is started
// on first use and again if it dies. The translator gets the parameter
// values CloudFormation passes the transform, pseudo parameters included,
// and looks AWS managed policies up in the map it bundles: no AWS call is
// made (a policy name that map does not know stays as it is, where AWS
// would ask IAM). A template that is not valid SAM is an *Error carrying
// the translator's message, worded as the hosted transform words it.
package samtransform
